/* shmap — who the peer of a Unix socket is, on Linux (SO_PEERCRED; the
 * BSDs and macOS have getpeereid). */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

int shmap__os_peer_check(shmap__chan_os *c) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return shmap__err_sys(SHMAP_EOS, errno, "channel: SO_PEERCRED");
  if (cred.uid != geteuid())
    return shmap__err(SHMAP_EPERM, "channel: peer uid %u is not ours (%u)",
                      (unsigned)cred.uid, (unsigned)geteuid());
  return 0;
}
