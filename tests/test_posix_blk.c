/* examples/vhost-user-blk's device, driven in-process: this test plays the
 * VMM and the guest driver. Guest RAM is a mappable mapped into the front
 * end's window and shared with the device over a channel pair; the device
 * runs its own loop (vub_serve_one) on a thread, with real eventfds for
 * kick, call and err. One virtqueue of 16 entries is built in guest RAM.
 *
 * Checked: read, write, get-id and flush against the image file's bytes;
 * then each kind of hostile descriptor, which must either answer the
 * request with an error status (and the next good request still works) or
 * break the ring (the err eventfd fires, nothing is completed), never
 * crash or hang. POSIX: eventfds. */
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "support.h"
#include "vub.h"

#define QN 16u
/* Guest physical layout: RAM, a hole, more RAM; read-only memory (a ROM
 * mapped straight into the device's window) elsewhere. */
#define RAM_GPA 0x100000ull
#define RAM_SIZE 0x200000ull
#define RAM2_GPA (RAM_GPA + RAM_SIZE + 0x100000ull)
#define RAM2_SIZE 0x100000ull
#define ROM_GPA 0x1000000ull
#define ROM_SIZE 0x10000ull
/* Offsets in RAM. */
#define DESC_OFF 0x0ull
#define AVAIL_OFF 0x1000ull
#define USED_OFF 0x2000ull
#define HDR_OFF 0x3000ull
#define STATUS_OFF 0x3100ull
#define DATA_OFF 0x10000ull
#define IMAGE_BYTES (1u << 20)
#define WAIT_MS 3000

struct rig {
  shmap_channel *front, *back;
  shmap_window *guest, *mine;
  shmap_backend *be;
  shmap_mappable *ram, *ram2, *rom;
  vub_dev d;
  int kick, call, err;
  test_thread *t;
  int serve_rc;
  uint16_t avail_idx;
  char path[64];
};

static uint8_t *ram(struct rig *r, uint64_t gpa) {
  uint8_t *p = shmap_window_translate(r->mine, gpa, 1);
  cr_assert_not_null(p, "0x%llx not in the test's RAM",
                     (unsigned long long)gpa);
  return p;
}

/* The front end's own address of a guest address: what SET_VRING_ADDR
 * carries. */
static uint64_t ua(struct rig *r, uint64_t gpa) {
  return (uint64_t)(uintptr_t)ram(r, gpa);
}

static void device(void *arg) {
  struct rig *r = arg;
  int rc;
  while ((rc = vub_serve_one(&r->d, r->back, NULL)) == 0)
    ;
  r->serve_rc = rc;
}

/* The device's foreign callback, its log note dropped. */
static int on_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  vub_note n;
  return vub_handle(ctx, ch, m, &n);
}

static void call_u64(struct rig *r, uint32_t req, uint64_t v, int fd) {
  uint8_t p[8];
  le64(p, v);
  ASSERT_OK(
      shmap_channel_call(r->front, req, p, 8, &fd, fd >= 0 ? 1 : 0, NULL));
}

static void call_state(struct rig *r, uint32_t req, uint32_t a, uint32_t b) {
  uint8_t p[8];
  le32(p, a);
  le32(p + 4, b);
  ASSERT_OK(shmap_channel_call(r->front, req, p, 8, NULL, 0, NULL));
}

static void set_addr(struct rig *r, uint64_t desc, uint64_t used,
                     uint64_t avail) {
  uint8_t p[40] = {0};
  le64(p + 8, desc);
  le64(p + 16, used);
  le64(p + 24, avail);
  ASSERT_OK(shmap_channel_call(r->front, SHMAP_REQ_SET_VRING_ADDR, p, 40, NULL,
                               0, NULL));
}

static shmap_mappable *ram_map(struct rig *r, uint64_t gpa, uint64_t size) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(size, 0, &m));
  ASSERT_OK(shmap_window_map(r->mine, gpa, m, 0, size, SHMAP_PROT_RW));
  shmap_region reg = {.guest_address = gpa,
                      .size = size,
                      .mappable = m,
                      .file_offset = 0,
                      .host = ram(r, gpa)};
  ASSERT_OK(shmap_frontend_add_region(r->front, &reg));
  return m;
}

/* Image file with a known pattern, guest RAM shared, the device running,
 * ring 0 set up (its addresses `ring_ua`, or RAM's when 0) and kicked. */
static void rig_up_at(struct rig *r, uint64_t ring_ua) {
  memset(r, 0, sizeof *r);
  strcpy(r->path, "/tmp/shmap-blk-XXXXXX");
  int fd = mkstemp(r->path);
  cr_assert(fd >= 0);
  uint8_t *img = malloc(IMAGE_BYTES);
  test_fill(img, IMAGE_BYTES, 5);
  cr_assert_eq(write(fd, img, IMAGE_BYTES), (ssize_t)IMAGE_BYTES);
  free(img);
  close(fd);

  ASSERT_OK(shmap_channel_pair(0, &r->front, &r->back));
  ASSERT_OK(shmap_window_reserve(1ull << 30, 0, &r->guest));
  ASSERT_OK(shmap_window_reserve(1ull << 30, 0, &r->mine));
  ASSERT_OK(shmap_backend_create(r->guest, NULL, &r->be));
  vub_init(&r->d, r->be, 0);
  cr_assert_eq(vub_open_image(&r->d, r->path, 0), 0);
  cr_assert_eq(r->d.capacity, IMAGE_BYTES / 512);
  shmap_backend_on_foreign(r->be, on_foreign, &r->d);
  /* Read-only memory the device sees (and no region: not the front
   * end's to share), as a ROM would be. */
  ASSERT_OK(shmap_mappable_create(ROM_SIZE, 0, &r->rom));
  ASSERT_OK(shmap_window_map(r->guest, ROM_GPA, r->rom, 0, ROM_SIZE,
                             SHMAP_PROT_READ));
  r->t = test_thread_start(device, r);
  cr_assert_not_null(r->t);
  r->ram = ram_map(r, RAM_GPA, RAM_SIZE);
  r->ram2 = ram_map(r, RAM2_GPA, RAM2_SIZE);

  r->kick = eventfd(0, EFD_CLOEXEC);
  r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  cr_assert(r->kick >= 0 && r->call >= 0 && r->err >= 0);
  call_state(r, SHMAP_REQ_SET_VRING_NUM, 0, QN);
  if (ring_ua == 0)
    set_addr(r, ua(r, RAM_GPA + DESC_OFF), ua(r, RAM_GPA + USED_OFF),
             ua(r, RAM_GPA + AVAIL_OFF));
  else
    set_addr(r, ring_ua, ring_ua + 0x2000, ring_ua + 0x1000);
  call_state(r, SHMAP_REQ_SET_VRING_BASE, 0, 0);
  call_u64(r, SHMAP_REQ_SET_VRING_CALL, 0, r->call);
  call_u64(r, SHMAP_REQ_SET_VRING_ERR, 0, r->err);
  call_u64(r, SHMAP_REQ_SET_VRING_KICK, 0, r->kick);
}

static void rig_up(struct rig *r) { rig_up_at(r, 0); }

static void rig_down(struct rig *r) {
  shmap_channel_close(r->front); /* the device's loop ends: ECLOSED */
  test_thread_join(r->t);
  cr_assert_eq(r->serve_rc, SHMAP_ECLOSED, "device loop ended with %s",
               shmap_err_name(r->serve_rc));
  vub_cleanup(&r->d);
  vub_close_image(&r->d);
  shmap_channel_close(r->back);
  shmap_backend_destroy(r->be);
  shmap_window_release(r->guest);
  shmap_window_release(r->mine);
  shmap_mappable_unref(r->ram);
  shmap_mappable_unref(r->ram2);
  shmap_mappable_unref(r->rom);
  close(r->kick);
  close(r->call);
  close(r->err);
  unlink(r->path);
}

/* ---- the guest driver ---- */

static void put_desc(struct rig *r, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next) {
  struct virtq_desc d = {addr, len, flags, next};
  memcpy(ram(r, RAM_GPA + DESC_OFF + 16ull * i), &d, sizeof d);
}

/* A chain of `n` descriptors 0..n-1 (the last without NEXT). */
struct buf {
  uint64_t addr;
  uint32_t len;
  int write;
};
static void put_chain(struct rig *r, const struct buf *b, uint16_t n) {
  for (uint16_t i = 0; i < n; i++)
    put_desc(r, i, b[i].addr, b[i].len,
             (uint16_t)((b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                        (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
             (uint16_t)(i + 1));
}

static uint16_t used_idx(struct rig *r) {
  uint16_t v;
  memcpy(&v, ram(r, RAM_GPA + USED_OFF + 2), 2);
  return v;
}

/* Make `head` available, advance avail idx by `step` (1 normally), kick,
 * and wait for the call ('c') or err ('e') eventfd; 0 when neither came. */
static int submit_step(struct rig *r, uint16_t head, uint16_t step) {
  uint8_t *avail = ram(r, RAM_GPA + AVAIL_OFF);
  memcpy(avail + 4 + 2 * (r->avail_idx % QN), &head, 2);
  r->avail_idx = (uint16_t)(r->avail_idx + step);
  atomic_thread_fence(memory_order_release);
  memcpy(avail + 2, &r->avail_idx, 2);
  uint64_t one = 1;
  cr_assert_eq(write(r->kick, &one, 8), 8);
  struct pollfd p[2] = {{r->call, POLLIN, 0}, {r->err, POLLIN, 0}};
  if (poll(p, 2, WAIT_MS) <= 0)
    return 0;
  uint64_t v;
  if (p[1].revents & POLLIN) {
    cr_assert_eq(read(r->err, &v, 8), 8);
    return 'e';
  }
  cr_assert_eq(read(r->call, &v, 8), 8);
  return 'c';
}
static int submit(struct rig *r) { return submit_step(r, 0, 1); }

/* The last used element. */
static struct virtq_used_elem last_used(struct rig *r) {
  struct virtq_used_elem e;
  uint16_t i = (uint16_t)(used_idx(r) - 1);
  memcpy(&e, ram(r, RAM_GPA + USED_OFF + 4 + 8ull * (i % QN)), sizeof e);
  return e;
}

static void put_hdr(struct rig *r, uint32_t type, uint64_t sector) {
  struct virtio_blk_outhdr h = {type, 0, sector};
  memcpy(ram(r, RAM_GPA + HDR_OFF), &h, sizeof h);
  *ram(r, RAM_GPA + STATUS_OFF) = 0xee; /* the device must overwrite it */
}

/* GET_VRING_BASE of ring 0 (which stops it): where it stopped. */
static uint32_t get_vring_base(struct rig *r) {
  uint8_t p[8] = {0};
  shmap_msg *m = calloc(1, sizeof *m);
  cr_assert_not_null(m);
  ASSERT_OK(
      shmap_channel_call(r->front, SHMAP_REQ_GET_VRING_BASE, p, 8, NULL, 0, m));
  cr_assert_eq(m->hdr.size, 8);
  uint32_t base = (uint32_t)(m->payload[4] | m->payload[5] << 8);
  free(m);
  return base;
}

/* A request of header and one more buffer (the status byte's, or not). */
static void put_two(struct rig *r, uint32_t type, struct buf second) {
  put_hdr(r, type, 0);
  struct buf b[2] = {{RAM_GPA + HDR_OFF, 16, 0}, second};
  put_chain(r, b, 2);
}

/* A request of header, one data buffer (addr, len, device-writable or
 * not) and the status byte; its status, or -1 when it did not complete. */
static int request(struct rig *r, uint32_t type, uint64_t sector, uint64_t addr,
                   uint32_t len, int dwrite) {
  put_hdr(r, type, sector);
  struct buf b[3] = {{RAM_GPA + HDR_OFF, 16, 0},
                     {addr, len, dwrite},
                     {RAM_GPA + STATUS_OFF, 1, 1}};
  if (len == 0)
    b[1] = b[2];
  put_chain(r, b, len == 0 ? 2 : 3);
  uint16_t before = used_idx(r);
  if (submit(r) != 'c' || used_idx(r) != (uint16_t)(before + 1))
    return -1;
  return *ram(r, RAM_GPA + STATUS_OFF);
}

static int image_matches(struct rig *r, uint64_t off, const void *p, size_t n) {
  uint8_t *buf = malloc(n);
  int fd = open(r->path, O_RDONLY);
  int ok = fd >= 0 && pread(fd, buf, n, (off_t)off) == (ssize_t)n &&
           memcmp(buf, p, n) == 0;
  close(fd);
  free(buf);
  return ok;
}

/* A good read that must still work after a failed request. */
static void still_serves(struct rig *r) {
  uint8_t *data = ram(r, RAM_GPA + DATA_OFF);
  memset(data, 0, 4096);
  cr_assert_eq(request(r, VIRTIO_BLK_T_IN, 8, RAM_GPA + DATA_OFF, 4096, 1),
               VIRTIO_BLK_S_OK);
  cr_assert(image_matches(r, 8 * 512, data, 4096));
  cr_assert_eq(last_used(r).len, 4097);
}

/* ---- round trips ---- */

SHMAP_TEST(blk, read_write_id_flush) {
  struct rig r;
  rig_up(&r);
  uint8_t *data = ram(&r, RAM_GPA + DATA_OFF);
  /* Read 64 KiB at sector 3: the image's bytes, used len data + status. */
  memset(data, 0, 65536);
  cr_assert_eq(request(&r, VIRTIO_BLK_T_IN, 3, RAM_GPA + DATA_OFF, 65536, 1),
               VIRTIO_BLK_S_OK);
  cr_assert(image_matches(&r, 3 * 512, data, 65536));
  cr_assert_eq(last_used(&r).id, 0);
  cr_assert_eq(last_used(&r).len, 65537);
  /* Write 8 KiB at sector 100: the file holds them. */
  test_fill(data, 8192, 77);
  cr_assert_eq(request(&r, VIRTIO_BLK_T_OUT, 100, RAM_GPA + DATA_OFF, 8192, 0),
               VIRTIO_BLK_S_OK);
  cr_assert(image_matches(&r, 100 * 512, data, 8192));
  cr_assert_eq(last_used(&r).len, 1);
  /* A write split over two buffers, the second in the other region. */
  uint8_t *data2 = ram(&r, RAM2_GPA);
  test_fill(data2, 512, 78);
  put_hdr(&r, VIRTIO_BLK_T_OUT, 200);
  struct buf b[4] = {{RAM_GPA + HDR_OFF, 16, 0},
                     {RAM_GPA + DATA_OFF, 512, 0},
                     {RAM2_GPA, 512, 0},
                     {RAM_GPA + STATUS_OFF, 1, 1}};
  put_chain(&r, b, 4);
  cr_assert_eq(submit(&r), 'c');
  cr_assert_eq(*ram(&r, RAM_GPA + STATUS_OFF), VIRTIO_BLK_S_OK);
  cr_assert(image_matches(&r, 200 * 512, data, 512));
  cr_assert(image_matches(&r, 201 * 512, data2, 512));
  /* GET_ID: 20 bytes of serial. */
  memset(data, 0, 64);
  cr_assert_eq(request(&r, VIRTIO_BLK_T_GET_ID, 0, RAM_GPA + DATA_OFF, 20, 1),
               VIRTIO_BLK_S_OK);
  cr_assert_eq(memcmp(data, "shmap-vhost-user-blk", 20), 0);
  cr_assert_eq(last_used(&r).len, 21);
  /* FLUSH: header and status only. */
  cr_assert_eq(request(&r, VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0), VIRTIO_BLK_S_OK);
  /* Past the end, and straddling it: IOERR, the image untouched. */
  cr_assert_eq(request(&r, VIRTIO_BLK_T_IN, IMAGE_BYTES / 512,
                       RAM_GPA + DATA_OFF, 512, 1),
               VIRTIO_BLK_S_IOERR);
  cr_assert_eq(request(&r, VIRTIO_BLK_T_OUT, IMAGE_BYTES / 512 - 1,
                       RAM_GPA + DATA_OFF, 1024, 0),
               VIRTIO_BLK_S_IOERR);
  /* A type it does not know: UNSUPP. */
  cr_assert_eq(request(&r, 99, 0, 0, 0, 0), VIRTIO_BLK_S_UNSUPP);
  /* GET_VRING_BASE stops the ring where it got to. */
  cr_assert_eq(get_vring_base(&r), r.avail_idx);
  rig_down(&r);
  cr_assert_eq(r.d.requests, 8);
  cr_assert_eq(r.d.failed, 3);
}

/* ---- hostile descriptors: a status ---- */

/* Each: the request gets `status`, and the device serves the next one. */
static void bad_request(uint32_t type, uint64_t addr, uint32_t len, int dw,
                        int status) {
  struct rig r;
  rig_up(&r);
  cr_assert_eq(request(&r, type, 0, addr, len, dw), status);
  still_serves(&r);
  rig_down(&r);
  cr_assert_eq(r.d.failed, 1);
}

SHMAP_TEST(blk, buffer_outside_guest_memory) {
  bad_request(VIRTIO_BLK_T_IN, 0x30000000, 4096, 1, VIRTIO_BLK_S_IOERR);
}

SHMAP_TEST(blk, buffer_straddles_a_hole) {
  bad_request(VIRTIO_BLK_T_IN, RAM_GPA + RAM_SIZE - 512, 1024, 1,
              VIRTIO_BLK_S_IOERR);
}

SHMAP_TEST(blk, write_buffer_in_readonly_memory) {
  /* A read would write into the ROM: refused, the ROM intact. */
  bad_request(VIRTIO_BLK_T_IN, ROM_GPA, 512, 1, VIRTIO_BLK_S_IOERR);
}

SHMAP_TEST(blk, buffer_wraps_the_address_space) {
  bad_request(VIRTIO_BLK_T_OUT, UINT64_MAX - 255, 512, 0, VIRTIO_BLK_S_IOERR);
}

SHMAP_TEST(blk, header_too_short) {
  struct rig r;
  rig_up(&r);
  put_hdr(&r, VIRTIO_BLK_T_IN, 0);
  struct buf b[2] = {{RAM_GPA + HDR_OFF, 8, 0}, {RAM_GPA + STATUS_OFF, 1, 1}};
  put_chain(&r, b, 2);
  cr_assert_eq(submit(&r), 'c');
  cr_assert_eq(*ram(&r, RAM_GPA + STATUS_OFF), VIRTIO_BLK_S_IOERR);
  still_serves(&r);
  rig_down(&r);
}

SHMAP_TEST(blk, readable_after_writable) {
  struct rig r;
  rig_up(&r);
  put_hdr(&r, VIRTIO_BLK_T_IN, 0);
  struct buf b[4] = {{RAM_GPA + HDR_OFF, 16, 0},
                     {RAM_GPA + DATA_OFF, 512, 1},
                     {RAM_GPA + DATA_OFF + 512, 512, 0},
                     {RAM_GPA + STATUS_OFF, 1, 1}};
  put_chain(&r, b, 4);
  cr_assert_eq(submit(&r), 'c');
  cr_assert_eq(*ram(&r, RAM_GPA + STATUS_OFF), VIRTIO_BLK_S_IOERR);
  still_serves(&r);
  rig_down(&r);
}

/* ---- hostile descriptors: a broken ring ---- */

/* The ring must break: err fires, nothing completes, the device still
 * answers messages, and a good request on the broken ring is not run. */
/* `done` requests completed before; the ring stopped at `base` (a chain
 * found bad only once taken counts as taken). */
static void expect_broken_at(struct rig *r, int got, uint16_t done,
                             uint16_t base) {
  cr_assert_eq(got, 'e', "the ring did not break");
  cr_assert_eq(used_idx(r), done);
  /* Messages are still answered; the ring stopped where it broke. */
  cr_assert_eq(get_vring_base(r), base);
  rig_down(r);
  cr_assert(r->d.vq[0].broken);
  cr_assert_eq(r->d.requests, done);
}
static void expect_broken(struct rig *r, int got) {
  expect_broken_at(r, got, 0, 0);
}

SHMAP_TEST(blk, chain_loops) {
  struct rig r;
  rig_up(&r);
  put_hdr(&r, VIRTIO_BLK_T_IN, 0);
  put_desc(&r, 0, RAM_GPA + HDR_OFF, 16, VIRTQ_DESC_F_NEXT, 1);
  put_desc(&r, 1, RAM_GPA + STATUS_OFF, 1,
           VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
  expect_broken(&r, submit(&r));
}

SHMAP_TEST(blk, chain_longer_than_queue) {
  struct rig r;
  rig_up(&r);
  /* Every descriptor chained, the last back to the first. */
  for (uint16_t i = 0; i < QN; i++)
    put_desc(&r, i, RAM_GPA + DATA_OFF, 512,
             VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % QN));
  expect_broken(&r, submit(&r));
}

SHMAP_TEST(blk, next_out_of_range) {
  struct rig r;
  rig_up(&r);
  /* Past the table lies what would be a good status buffer: only the
   * range check stops the device from following it. */
  put_hdr(&r, VIRTIO_BLK_T_FLUSH, 0);
  put_desc(&r, 0, RAM_GPA + HDR_OFF, 16, VIRTQ_DESC_F_NEXT, QN);
  put_desc(&r, QN, RAM_GPA + STATUS_OFF, 1, VIRTQ_DESC_F_WRITE, 0);
  expect_broken(&r, submit(&r));
}

SHMAP_TEST(blk, head_out_of_range) {
  struct rig r;
  rig_up(&r);
  /* A good request past the table, as in next_out_of_range. */
  put_hdr(&r, VIRTIO_BLK_T_FLUSH, 0);
  put_desc(&r, QN + 3, RAM_GPA + HDR_OFF, 16, VIRTQ_DESC_F_NEXT, QN + 4);
  put_desc(&r, QN + 4, RAM_GPA + STATUS_OFF, 1, VIRTQ_DESC_F_WRITE, 0);
  expect_broken(&r, submit_step(&r, QN + 3, 1));
}

SHMAP_TEST(blk, status_missing) {
  struct rig r;
  rig_up(&r);
  put_two(&r, VIRTIO_BLK_T_OUT, (struct buf){RAM_GPA + DATA_OFF, 512, 0});
  expect_broken_at(&r, submit(&r), 0, 1);
}

SHMAP_TEST(blk, status_not_writable) {
  struct rig r;
  rig_up(&r);
  put_two(&r, VIRTIO_BLK_T_FLUSH, (struct buf){ROM_GPA, 1, 1});
  expect_broken_at(&r, submit(&r), 0, 1);
}

SHMAP_TEST(blk, indirect_not_negotiated) {
  struct rig r;
  rig_up(&r);
  /* A flush whose header descriptor says INDIRECT: good but for that. */
  put_hdr(&r, VIRTIO_BLK_T_FLUSH, 0);
  put_desc(&r, 0, RAM_GPA + HDR_OFF, 16,
           VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
  put_desc(&r, 1, RAM_GPA + STATUS_OFF, 1, VIRTQ_DESC_F_WRITE, 0);
  expect_broken(&r, submit(&r));
}

SHMAP_TEST(blk, avail_idx_jumps) {
  struct rig r;
  rig_up(&r);
  put_two(&r, VIRTIO_BLK_T_FLUSH, (struct buf){RAM_GPA + STATUS_OFF, 1, 1});
  expect_broken(&r, submit_step(&r, 0, QN + 1));
}

SHMAP_TEST(blk, vring_not_in_guest_memory) {
  struct rig r;
  /* Front-end addresses that no region holds. */
  rig_up_at(&r, 0x1000);
  expect_broken(&r, submit(&r));
}

SHMAP_TEST(blk, vring_moved_out_of_guest_memory) {
  struct rig r;
  rig_up(&r);
  still_serves(&r);
  /* Stop the ring, move it where no region is, restart it: the device
   * must translate the new addresses, not go on with the old ones. */
  cr_assert_eq(get_vring_base(&r), 1);
  set_addr(&r, 0x1000, 0x3000, 0x2000);
  call_state(&r, SHMAP_REQ_SET_VRING_BASE, 0, 1);
  call_u64(&r, SHMAP_REQ_SET_VRING_KICK, 0, r.kick);
  put_two(&r, VIRTIO_BLK_T_FLUSH, (struct buf){RAM_GPA + STATUS_OFF, 1, 1});
  expect_broken_at(&r, submit(&r), 1, 1);
}

/* ---- garbage: whatever the table holds, the device answers or breaks ---- */

static uint64_t next_rand(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* A guest address near the interesting places: RAM, its edges, the hole,
 * the ROM, nowhere. */
static uint64_t any_addr(uint64_t *s) {
  static const uint64_t base[] = {RAM_GPA + HDR_OFF,
                                  RAM_GPA + DATA_OFF,
                                  RAM_GPA + RAM_SIZE - 256,
                                  RAM2_GPA - 64,
                                  ROM_GPA,
                                  0x30000000,
                                  UINT64_MAX - 64};
  return base[next_rand(s) % 7] + next_rand(s) % 512;
}

SHMAP_TEST(blk, garbage_descriptors) {
  struct rig r;
  uint64_t s = 42;
  int calls = 0, breaks = 0;
  rig_up(&r);
  for (int round = 0; round < 300; round++) {
    for (uint16_t i = 0; i < QN; i++)
      put_desc(&r, i, any_addr(&s), (uint32_t)(next_rand(&s) % 1100),
               (uint16_t)(next_rand(&s) % 8), (uint16_t)(next_rand(&s) % 20));
    put_hdr(&r, (uint32_t)(next_rand(&s) % 10), next_rand(&s) % 2100);
    int got = submit_step(&r, (uint16_t)(next_rand(&s) % 18), 1);
    cr_assert(got != 0, "round %d: neither completed nor broke", round);
    if (got == 'c') {
      calls++;
      continue;
    }
    /* Broken: restart it past the bad chain, used ring included, as a
     * driver reset would. */
    breaks++;
    get_vring_base(&r);
    memcpy(ram(&r, RAM_GPA + USED_OFF + 2), &r.avail_idx, 2);
    call_state(&r, SHMAP_REQ_SET_VRING_BASE, 0, r.avail_idx);
    call_u64(&r, SHMAP_REQ_SET_VRING_KICK, 0, r.kick);
  }
  /* Both outcomes were exercised, and a good request still works. */
  cr_assert(calls > 10 && breaks > 10, "calls %d, breaks %d", calls, breaks);
  still_serves(&r);
  rig_down(&r);
}

/* ---- hostile front end ---- */

SHMAP_TEST(blk, queue_size_refused) {
  struct rig r;
  rig_up(&r);
  static const uint32_t bad[] = {0, 3, 100, 65536, 0xffffffffu};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t p[8];
    le32(p, 0);
    le32(p + 4, bad[i]);
    ASSERT_ERR(shmap_channel_call(r.front, SHMAP_REQ_SET_VRING_NUM, p, 8, NULL,
                                  0, NULL),
               SHMAP_ERANGE);
  }
  /* The ring keeps its size and serves. */
  still_serves(&r);
  rig_down(&r);
}
