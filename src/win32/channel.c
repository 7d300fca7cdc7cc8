/* shmap — Windows channel: NOT IMPLEMENTED YET.
 *
 * The named-pipe transport (message-mode pipes, handles duplicated into the
 * peer, current-user DACL; see DESIGN.md "Channel") is the open Windows half
 * of the protocol work. Until it lands every entry point fails cleanly with
 * SHMAP_ENOTSUP so that the rest of the library links and can be tested. */
#include "internal.h"

static int missing(const char *what) {
  return shmap__err(SHMAP_ENOTSUP,
                    "%s: the Windows named-pipe channel is not implemented yet",
                    what);
}

int shmap__os_listen(const char *addr, shmap__listener_os *out) {
  (void)addr, (void)out;
  return missing("listen");
}
int shmap__os_accept(shmap__listener_os *l, shmap__chan_os *out) {
  (void)l, (void)out;
  return missing("accept");
}
void shmap__os_listener_close(shmap__listener_os *l) { (void)l; }
int shmap__os_connect(const char *addr, shmap__chan_os *out) {
  (void)addr, (void)out;
  return missing("connect");
}
int shmap__os_adopt(shmap_native_t conn, shmap__chan_os *out) {
  (void)conn, (void)out;
  return missing("channel adopt");
}
int shmap__os_pair(shmap__chan_os *a, shmap__chan_os *b) {
  (void)a, (void)b;
  return missing("channel pair");
}
void shmap__os_chan_close(shmap__chan_os *c) { (void)c; }
shmap_native_t shmap__os_chan_native(const shmap__chan_os *c) {
  return c->pipe;
}
int shmap__os_peer_check(shmap__chan_os *c) {
  (void)c;
  return missing("peer check");
}
int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds) {
  (void)c, (void)buf, (void)len, (void)fds, (void)nfds;
  return missing("channel send");
}
int shmap__os_chan_recv_frame(shmap_channel *ch, uint8_t *buf, size_t cap,
                              size_t *len, shmap_native_t *fds, size_t *nfds) {
  (void)ch, (void)buf, (void)cap, (void)len, (void)fds, (void)nfds;
  return missing("channel receive");
}
