/* libFuzzer target: the receive path. The input is split into a few chunks
 * that are written into a socketpair, some carrying descriptors (a memfd or
 * a pipe end), and a back end serves whatever arrives until the channel
 * fails or empties. Nothing may crash, and no descriptor may survive. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_peer.h"
#include "shmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A foreign message handed to the callback: dropped, and the serve loop
 * goes on. */
static int drop_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  (void)ctx;
  (void)ch;
  shmap_msg_release(m);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The guest window (back end, front end shmid 0: 4 GiB) and a small
   * shared-memory window (front end shmid 1: 128 KiB, so that a mapping can
   * run past its end). */
  static shmap_window *w, *small;
  if (w == NULL && shmap_window_reserve(UINT64_C(1) << 32, 0, &w) != 0)
    abort();
  if (small == NULL && shmap_window_reserve(0x20000, 0, &small) != 0)
    abort();
  long before = fz_open_fds();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    abort();
  /* The first byte is control:
   *   bit 0  role: front end (set) or back end;
   *   bit 1  the channel is of the other kind than the role's usual
   *          receiving one (a front end on the main socket, a back end on
   *          the back-end request socket, where every message is foreign);
   *   bit 2  cross-process channel (no SHMAP_CHANNEL_INPROCESS: EXTERNAL_MAP
   *          is refused);
   *   bit 3  opt out of requiring sealed memory (unsealed memfds are mapped);
   *   bit 4  byte cap: 128 KiB (the max_bytes of shmap_backend_options or
   *          shmap_frontend_options);
   *   bit 5  back end: a 4 KiB byte cap (below any region); front end: at
   *          most 2 live mappings;
   *   bit 6  back end: answers the handshake itself (GET_FEATURES...
   *          SET_BACKEND_REQ_FD, whose descriptor it adopts as a channel);
   *          front end: foreign messages go to a callback;
   *   bit 7  the library's socket is non-blocking and the peer's write
   *          side stays open: the end of the peer's bytes is SHMAP_EAGAIN,
   *          half a message is kept and resumed by the next receive
   *          (blocking inputs see the end of stream instead).
   * Then the peer's chunks (fz_send_chunks()). */
  size_t i = 0;
  unsigned ctl = size > 0 ? data[i++] : 0;
  unsigned role = ctl & 1 ? SHMAP_ROLE_FRONTEND : SHMAP_ROLE_BACKEND;
  unsigned chan_kind = (role == SHMAP_ROLE_FRONTEND) != ((ctl & 2) != 0)
                           ? SHMAP_CHANNEL_BACKEND_REQ
                           : 0;
  unsigned flags = chan_kind | (ctl & 4 ? 0 : SHMAP_CHANNEL_INPROCESS);
  fz_send_chunks(sv[0], data + i, size - i);
  if (!(ctl & 0x80))
    shutdown(sv[0], SHUT_WR);
  if ((ctl & 0x80) &&
      fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK) != 0)
    abort();
  shmap_channel *ch;
  if (shmap_channel_adopt(sv[1], role, flags, &ch) != 0)
    abort();
  shmap_backend *be = NULL;
  shmap_frontend *fe = NULL;
  if (role == SHMAP_ROLE_BACKEND) {
    shmap_backend_options bo = {.size = sizeof bo,
                                .max_bytes = ctl & 0x20   ? 0x1000
                                             : ctl & 0x10 ? 0x20000
                                                          : 0,
                                .seal_policy = ctl & 8 ? SHMAP_SEALS_OPTIONAL
                                                       : SHMAP_SEALS_DEFAULT};
    if (shmap_backend_create(w, &bo, &be) != 0)
      abort();
    if (ctl & 0x40)
      shmap_backend_answer_handshake(be, SHMAP_VIRTIO_F_VERSION_1,
                                     SHMAP_PROTOCOL_SHMAP_DEFAULT);
  } else {
    shmap_frontend_options fo = {.size = sizeof fo,
                                 .max_bytes = ctl & 0x10 ? 0x20000 : 0,
                                 .seal_policy = ctl & 8 ? SHMAP_SEALS_OPTIONAL
                                                        : SHMAP_SEALS_DEFAULT};
    if (ctl & 0x30) /* as before: no count cap unless bit 5 */
      fo.max_mappings = ctl & 0x20 ? 2 : SIZE_MAX;
    if (shmap_frontend_create(&fo, &fe) != 0 ||
        shmap_frontend_add_window(fe, 0, w) != 0 ||
        shmap_frontend_add_window(fe, 1, small) != 0)
      abort();
    if (ctl & 0x40)
      shmap_frontend_on_foreign(fe, drop_foreign, NULL);
  }
  int eagain = 0;
  for (int n = 0; n < 64; n++) {
    shmap_event ev;
    memset(&ev, 0, sizeof ev);
    fz_prime();
    int rc = be ? shmap_backend_serve_one(be, ch, &ev)
                : shmap_frontend_serve_one(fe, ch, &ev);
    fz_check_result(rc != 0 ? rc : ev.result);
    /* FZ_VERBOSE=1 shows each message's outcome, to check what a seed
     * does. */
    static int verbose = -1;
    if (verbose < 0)
      verbose = getenv("FZ_VERBOSE") != NULL;
    if (verbose)
      fprintf(stderr, "serve: rc %d request %u result %d %s\n", rc, ev.request,
              ev.result, rc != 0 || ev.result != 0 ? shmap_last_message() : "");
    /* A peer that shrinks its (unsealed) memory once the first message
     * was applied: later maps and table changes meet the smaller object. */
    fz_shrink();
    /* Non-blocking: one more receive after SHMAP_EAGAIN resumes whatever
     * was half read (and finds nothing more). */
    if (rc == SHMAP_EAGAIN && !eagain++)
      continue;
    if (rc != 0)
      break;
  }
  fz_shrink();
  shmap_channel_close(ch);
  shmap_backend_destroy(be);
  shmap_frontend_destroy(fe);
  /* Start the next input from empty windows (this also drops the
   * references to any mappable the input left mapped). */
  if (shmap_window_count(w) > 0) {
    shmap_window_release(w);
    w = NULL;
  }
  if (shmap_window_count(small) > 0) {
    shmap_window_release(small);
    small = NULL;
  }
  close(sv[0]);
  if (fz_open_fds() != before)
    abort(); /* a descriptor leaked */
  return 0;
}
