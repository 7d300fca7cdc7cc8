/* shmap serve --device blk — the vhost-user-blk device of
 * examples/vhost-user-blk, with one JSON line for each message it is
 * handed. The library answers the handshake and the memory messages; the
 * device answers the rest (config space, vring state). Without --image it
 * keeps no descriptor and processes no virtqueue; with one (POSIX) it serves
 * the image, and only failures and a count at the end get lines of their
 * own, not every I/O. */
#include <inttypes.h>
#include <string.h>

#include "tool.h"

int tool_blk_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  vub_dev *d = ctx;
  uint32_t code = m->hdr.request;
  int dir = m->direction;
  vub_note n;
  int rc = vub_handle(d, ch, m, &n);
  tool_line_begin(shmap_wire_request_name_in(dir, code), code, n.result, n.why);
  for (int i = 0; i < n.n; i++) {
    const vub_field *f = &n.f[i];
    if (f->kind == VUB_HEX)
      printf(",\"%s\":\"0x%" PRIx64 "\"", f->key, f->v);
    else if (f->kind == VUB_BOOL)
      printf(",\"%s\":%s", f->key, f->v ? "true" : "false");
    else
      printf(",\"%s\":%" PRIu64, f->key, f->v);
  }
  tool_line_end(1, shmap_backend_count(d->be));
  /* A request it could not parse is answered and survived; only a broken
   * connection ends the serve loop. */
  return rc;
}

void tool_blk_report(void *ctx, const vub_report *r) {
  (void)ctx;
  if (r->broken)
    printf("{\"event\":\"ring_broken\",\"ring\":%" PRIu32, r->ring);
  else
    printf("{\"event\":\"request_failed\",\"ring\":%" PRIu32
           ",\"type\":%" PRIu32 ",\"sector\":%" PRIu64 ",\"status\":%u",
           r->ring, r->type, r->sector, r->status);
  printf(",\"message\":");
  tool_print_json_string(stdout, r->why);
  printf("}\n");
  fflush(stdout);
}

void tool_blk_summary(const vub_dev *d) {
  printf("{\"event\":\"io\",\"requests\":%" PRIu64 ",\"failed\":%" PRIu64
         ",\"bytes_read\":%" PRIu64 ",\"bytes_written\":%" PRIu64 "}\n",
         d->requests, d->failed, d->bytes_read, d->bytes_written);
  fflush(stdout);
}
