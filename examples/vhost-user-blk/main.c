/* vhost-user-blk SOCKET IMAGE [--readonly] — a vhost-user-blk back end
 * serving a raw image file to one front end (QEMU's vhost-user-blk-pci),
 * built on shmap: the library answers the handshake and maps guest memory,
 * the device (vub_*.c) does the rest. Exits 0 when the front end hangs up
 * cleanly. A short log goes to stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vub.h"

/* A message begun but not finished within this long ends the session. */
#define MESSAGE_TIMEOUT_MS 5000

static void on_report(void *ctx, const vub_report *r) {
  (void)ctx;
  if (r->broken)
    fprintf(stderr, "vhost-user-blk: ring %" PRIu32 " broken: %s\n", r->ring,
            r->why);
  else
    fprintf(stderr,
            "vhost-user-blk: request type %" PRIu32 " sector %" PRIu64
            " failed (status %u): %s\n",
            r->type, r->sector, r->status, r->why);
}

/* The device's own messages: handled by vub_handle(); only the ones that
 * change what runs are worth a line. */
static int on_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  vub_dev *d = ctx;
  vub_note n;
  uint32_t code = m->hdr.request;
  int dir = m->direction;
  int rc = vub_handle(d, ch, m, &n);
  if (n.result != 0 || code == SHMAP_REQ_SET_VRING_KICK ||
      code == SHMAP_REQ_GET_VRING_BASE || code == SHMAP_REQ_SET_STATUS) {
    fprintf(stderr, "vhost-user-blk: %s",
            shmap_wire_request_name_in(dir, code));
    for (int i = 0; i < n.n; i++)
      fprintf(stderr, " %s=%" PRIu64, n.f[i].key, n.f[i].v);
    if (n.result != 0)
      fprintf(stderr, " failed: %s", n.why != NULL ? n.why : "");
    fputc('\n', stderr);
  }
  return rc;
}

static int run(vub_dev *d, const char *sock) {
  shmap_listener *l = NULL;
  shmap_channel *ch = NULL;
  int rc = shmap_listener_open(sock, &l);
  if (rc == 0) {
    fprintf(stderr, "vhost-user-blk: listening on %s (%" PRIu64 " sectors%s)\n",
            sock, d->capacity, d->readonly ? ", read-only" : "");
    rc = shmap_listener_accept(l, SHMAP_ROLE_BACKEND, SHMAP_CHANNEL_SAME_USER,
                               &ch);
  }
  if (rc == 0)
    rc = shmap_channel_set_timeout(ch, MESSAGE_TIMEOUT_MS);
  while (rc == 0) {
    shmap_event ev;
    rc = vub_serve_one(d, ch, &ev);
    if (rc == 0 && !ev.foreign && ev.result != 0)
      fprintf(stderr, "vhost-user-blk: %s refused: %s\n",
              shmap_wire_request_name_in(ev.direction, ev.request),
              shmap_err_name(ev.result));
  }
  if (rc != SHMAP_ECLOSED)
    fprintf(stderr, "vhost-user-blk: %s\n", shmap_last_message());
  shmap_channel_close(ch);
  shmap_listener_close(l);
  return rc == SHMAP_ECLOSED ? 0 : 1;
}

int main(int argc, char **argv) {
  int readonly = argc == 4 && strcmp(argv[3], "--readonly") == 0;
  if (argc != 3 && !readonly) {
    fputs("usage: vhost-user-blk SOCKET IMAGE [--readonly]\n", stderr);
    return 2;
  }
  shmap_window *guest = NULL;
  shmap_backend *be = NULL;
  vub_dev d;
  vub_init(&d, NULL, 0);
  if (vub_open_image(&d, argv[2], readonly) != 0) {
    fprintf(stderr, "vhost-user-blk: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  /* 64 GiB of guest address space: reserving it costs nothing. */
  int rc = shmap_window_reserve(1ull << 36, 0, &guest);
  if (rc == 0)
    rc = shmap_backend_create(guest, NULL, &be);
  int code = 1;
  if (rc == 0) {
    d.be = be;
    d.on_report = on_report;
    shmap_backend_answer_handshake(be, vub_features(&d), VUB_PROTOCOL);
    shmap_backend_on_foreign(be, on_foreign, &d);
    code = run(&d, argv[1]);
  } else {
    fprintf(stderr, "vhost-user-blk: %s\n", shmap_last_message());
  }
  fprintf(stderr,
          "vhost-user-blk: %" PRIu64 " requests, %" PRIu64 " failed, %" PRIu64
          " bytes read, %" PRIu64 " written\n",
          d.requests, d.failed, d.bytes_read, d.bytes_written);
  vub_cleanup(&d);
  vub_close_image(&d);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  return code;
}
