/* backend — a minimal device back end. It listens at ADDR, takes one front
 * end and maps the guest RAM it is sent at its guest addresses, in a window
 * as large as the guest's physical address space. Of each region it reads
 * the front end's note at the start and writes an answer after it: both
 * processes see the same bytes, nothing is copied over the socket.
 *
 *   backend ADDR     (a socket path; on Windows a pipe name \\.\pipe\NAME)
 *
 * Serves until the front end hangs up; exits 0 if it answered a region. */
#include <stdio.h>

#include "shmap.h"

#define GUEST_SPACE (UINT64_C(1) << 32) /* 4 GiB, reserved, never committed */
#define ANSWER_AT 256                   /* the front end's note comes first */

static int fail(const char *what) {
  fprintf(stderr, "backend: %s: %s\n", what, shmap_last_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: backend ADDR\n", stderr);
    return 2;
  }
  shmap_window *guest = NULL;
  shmap_backend *be = NULL;
  shmap_listener *l = NULL;
  shmap_channel *ch = NULL;
  if (shmap_window_reserve(GUEST_SPACE, 0, &guest) != 0 ||
      shmap_backend_create(guest, NULL, &be) != 0 ||
      shmap_listener_open(argv[1], &l) != 0 ||
      shmap_listener_accept(l, SHMAP_ROLE_BACKEND, SHMAP_CHANNEL_SAME_USER,
                            &ch) != 0)
    return fail("setup");

  /* serve_one maps (or unmaps) and replies; all that is left is to look. */
  int answered = 0, rc;
  shmap_event ev;
  while ((rc = shmap_backend_serve_one(be, ch, &ev)) == 0) {
    if (ev.result != 0)
      fprintf(stderr, "backend: refused %s: %s\n",
              shmap_wire_request_name(ev.request), shmap_strerror(ev.result));
    if (ev.result != 0 || ev.request != SHMAP_REQ_ADD_MEM_REG)
      continue;
    const shmap_wire_region *r = &ev.msg.u.region;
    char *ram =
        shmap_window_translate(guest, r->guest_phys_addr, r->memory_size);
    fprintf(stderr, "backend: region at guest 0x%llx: \"%.*s\"\n",
            (unsigned long long)r->guest_phys_addr, ANSWER_AT - 1, ram);
    snprintf(ram + ANSWER_AT, ANSWER_AT, "the back end read \"%.*s\"",
             ANSWER_AT / 2, ram);
    answered++;
  }
  if (rc != SHMAP_ECLOSED) /* ECLOSED: the front end hung up, all done */
    fail("serve");
  shmap_channel_close(ch);
  shmap_listener_close(l);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  return rc == SHMAP_ECLOSED && answered > 0 ? 0 : 1;
}
