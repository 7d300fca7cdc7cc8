/* vmm-blk — the VMM side of a virtio-blk disk served by a vhost-user-blk
 * back end (qemu-storage-daemon, or shmap's own device), driven through
 * shmap: guest RAM is a mappable mapped into a guest window, shared with the
 * back end; one split virtqueue lives in that RAM and this program plays the
 * guest driver on it.
 *
 *   vmm-blk SOCK [--seed N] [--write-at SECTOR] [--peer-pid PID]
 *               [--timeout S]
 *       negotiate, read the config space, share RAM, set up the vring;
 *       read known sectors of an image made with --make-image (seed N) and
 *       check every byte; write 128 KiB at SECTOR (seed N+1: one 64 KiB
 *       request, then 16 requests of 4 KiB in flight together), read it back
 *       both ways; GET_ID; FLUSH; a read past the end must fail; stop the
 *       ring (GET_VRING_BASE), remove the RAM region, and show the back end
 *       still answers (GET_FEATURES). Exit 0 only if every check held.
 *   vmm-blk SOCK --bench [--seconds S] [--row BS:QD] [--peer-pid PID]
 *       the same set-up, then random reads of 4 KiB and 64 KiB at queue
 *       depth 1 and 16 for S seconds each (default 2), one line of ops/s
 *       each; --row 4096:16 runs that row alone (4096 or 65536, 1 or 16);
 *       with --peer-pid, also the back end's CPU time per request.
 *   vmm-blk --make-image FILE BYTES SEED
 *       write an image whose every byte is known from SEED.
 *   vmm-blk --check-image FILE SEED [SECTOR]
 *       check a file against the image of SEED, with the 128 KiB a run
 *       wrote at SECTOR (seed SEED+1) in place; exit 0 if it all matches.
 *
 * Every wait on the back end is bounded (--timeout, default 10 s): the call
 * eventfd is polled with a timeout, and a vhost-user reply that does not
 * come ends the program with a message. POSIX only (eventfd, poll). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/virtio.h"
#include "shmap.h"

/* Guest physical address space: a 2 GiB window, RAM at 1 GiB. */
#define WINDOW_SIZE (UINT64_C(2) << 30)
#define RAM_GPA (UINT64_C(1) << 30)
#define RAM_SIZE (UINT64_C(8) << 20)

/* The one virtqueue: 256 entries, each request slot owning 8 descriptors
 * (header, up to 6 data segments, status): 32 slots. */
#define QSIZE 256u
#define DESC_PER_SLOT 8u
#define SLOTS (QSIZE / DESC_PER_SLOT)
#define MAX_SEGS (DESC_PER_SLOT - 2u)
/* RAM layout (offsets from RAM_GPA). */
#define DESC_OFF 0x0u
#define AVAIL_OFF 0x1000u
#define USED_OFF 0x2000u
#define HDR_OFF 0x4000u /* 32 bytes a slot: header, then status at +16 */
#define DATA_OFF 0x10000u
#define DATA_MAX (64u << 10) /* bytes a slot's buffer holds */

/* Written by the functional run: one 64 KiB request, then 16 of 4 KiB. */
#define WRITE_BIG (64u << 10)
#define WRITE_SMALL 4096u
#define WRITE_SMALL_N 16u
#define WRITE_BYTES (WRITE_BIG + WRITE_SMALL * WRITE_SMALL_N)

/* vhost-user payloads this program builds. */
#define VRING_STATE_BYTES 8
#define VRING_ADDR_BYTES 40
#define CONFIG_HDR 12
#define PROTOCOL_F_STATUS (UINT64_C(1) << 16)

static unsigned timeout_s = 10;
static const char *volatile current_step = "start";
static int failures;

/* A vhost-user reply that never comes would block a call for ever: the
 * alarm ends the program with a message instead. */
static void on_alarm(int sig) {
  (void)sig;
  static const char a[] = "vmm-blk: FAIL timed out waiting for the back end ("
                          "step: ";
  const char *s = current_step;
  /* Best effort: nothing more can be done if stderr is gone. */
  if (write(2, a, sizeof a - 1) > 0 && write(2, s, strlen(s)) > 0)
    (void)!write(2, ")\n", 2);
  _exit(1);
}

static void step(const char *name) {
  current_step = name;
  alarm(timeout_s + 5); /* a backstop: the waits below are bounded first */
}

static void pass(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pass(const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("PASS %-14s ", name);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fflush(stdout);
}

static void fail(const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL %-14s ", name);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fflush(stdout);
  failures++;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> 8 * i);
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> 8 * i);
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- the known image ---- */

/* Byte `off` of the image of `seed`: every 8 bytes one mixed 64-bit word
 * (splitmix64's finaliser), so a sector read from the wrong place or a
 * shifted buffer never matches. */
static uint64_t word_of(uint64_t seed, uint64_t w) {
  uint64_t x = seed * UINT64_C(0x9e3779b97f4a7c15) ^
               (w + 1) * UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 31;
  x *= UINT64_C(0x94d049bb133111eb);
  x ^= x >> 29;
  return x;
}

static void pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len) {
  for (size_t i = 0; i < len; i++) {
    uint64_t o = off + i;
    buf[i] = (uint8_t)(word_of(seed, o >> 3) >> 8 * (o & 7));
  }
}

/* The first byte of buf[0..len) that differs from the image of `seed` at
 * `off`, or -1. */
static long long mismatch(uint64_t seed, uint64_t off, const uint8_t *buf,
                          size_t len) {
  for (size_t i = 0; i < len; i++) {
    uint64_t o = off + i;
    if (buf[i] != (uint8_t)(word_of(seed, o >> 3) >> 8 * (o & 7)))
      return (long long)i;
  }
  return -1;
}

static int make_image(const char *path, uint64_t size, uint64_t seed) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    fprintf(stderr, "vmm-blk: %s: %s\n", path, strerror(errno));
    return 1;
  }
  static uint8_t buf[1 << 16];
  for (uint64_t off = 0; off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
    pattern(seed, off, buf, n);
    if (fwrite(buf, 1, n, f) != n) {
      fprintf(stderr, "vmm-blk: writing %s: %s\n", path, strerror(errno));
      fclose(f);
      return 1;
    }
  }
  if (fclose(f) != 0) {
    fprintf(stderr, "vmm-blk: closing %s: %s\n", path, strerror(errno));
    return 1;
  }
  return 0;
}

/* The file must be the image of `seed`, except [at, at+WRITE_BYTES) which
 * must be that of seed+1 (at is a byte offset; UINT64_MAX for none). */
static int check_image(const char *path, uint64_t seed, uint64_t at) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "vmm-blk: %s: %s\n", path, strerror(errno));
    return 1;
  }
  static uint8_t buf[1 << 16];
  uint64_t off = 0, written = 0;
  size_t n;
  int bad = 0;
  while (!bad && (n = fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < n; i++) {
      uint64_t o = off + i;
      int in = at != UINT64_MAX && o >= at && o - at < WRITE_BYTES;
      uint64_t s = in ? seed + 1 : seed;
      written += (uint64_t)in;
      if (buf[i] != (uint8_t)(word_of(s, o >> 3) >> 8 * (o & 7))) {
        printf("FAIL check-image   %s: byte %" PRIu64 " is 0x%02x, expected "
               "0x%02x (%s)\n",
               path, o, buf[i], (uint8_t)(word_of(s, o >> 3) >> 8 * (o & 7)),
               in ? "written by the run" : "original image");
        bad = 1;
        break;
      }
    }
    off += n;
  }
  fclose(f);
  if (!bad && at != UINT64_MAX && written != WRITE_BYTES) {
    printf("FAIL check-image   %s: %" PRIu64
           " bytes long, the write at %" PRIu64 " runs past it\n",
           path, off, at);
    bad = 1;
  }
  if (!bad)
    printf("PASS check-image   %s: %" PRIu64 " bytes as expected (%" PRIu64
           " written by the run)\n",
           path, off, written);
  return bad;
}

/* ---- the virtqueue ---- */

typedef struct ring {
  uint8_t *ram; /* host address of RAM_GPA */
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;
  uint16_t avail_idx; /* next avail->idx to publish */
  uint16_t last_used; /* used entries consumed so far */
  uint32_t submitted; /* requests made available, ever */
  int kick, call;
  uint32_t size_max; /* bytes per data descriptor (0: no limit) */
  uint32_t seg_max;  /* data descriptors per request (0: no limit) */
  uint64_t kicks, waits;
  int dead; /* a request did not complete in time: nothing more is sent */
  /* per slot: busy, and the used length expected */
  int busy[SLOTS];
  uint32_t want_len[SLOTS];
  uint32_t got_len[SLOTS];
  uint8_t status[SLOTS];
} ring;

static uint8_t *slot_data(ring *r, unsigned s) {
  return r->ram + DATA_OFF + (size_t)s * DATA_MAX;
}
static uint64_t slot_data_gpa(unsigned s) {
  return RAM_GPA + DATA_OFF + (uint64_t)s * DATA_MAX;
}

/* Make request `type` for slot `s` available: header, `len` data bytes of
 * the slot's buffer (device-writable for reads and GET_ID), status. */
static int submit(ring *r, unsigned s, uint32_t type, uint64_t sector,
                  uint32_t len) {
  uint8_t *hdr = r->ram + HDR_OFF + (size_t)s * 32;
  put32(hdr, type);
  put32(hdr + 4, 0);
  put64(hdr + 8, sector);
  hdr[16] = 0xff; /* status: the device overwrites it */
  unsigned d0 = s * DESC_PER_SLOT, d = d0;
  int device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
  r->desc[d] = (struct virtq_desc){RAM_GPA + HDR_OFF + (uint64_t)s * 32, 16,
                                   VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1)};
  d++;
  uint32_t seg = r->size_max != 0 ? r->size_max : len;
  unsigned nseg = 0;
  for (uint32_t off = 0; off < len; off += seg, nseg++) {
    if (nseg == MAX_SEGS || (r->seg_max != 0 && nseg == r->seg_max)) {
      fprintf(stderr,
              "vmm-blk: %" PRIu32 " bytes need more segments than the device "
              "allows (size_max %" PRIu32 ", seg_max %" PRIu32 ")\n",
              len, r->size_max, r->seg_max);
      return -1;
    }
    uint32_t n = len - off < seg ? len - off : seg;
    r->desc[d] = (struct virtq_desc){
        slot_data_gpa(s) + off, n,
        (uint16_t)(VIRTQ_DESC_F_NEXT |
                   (device_writes ? VIRTQ_DESC_F_WRITE : 0)),
        (uint16_t)(d + 1)};
    d++;
  }
  r->desc[d] = (struct virtq_desc){RAM_GPA + HDR_OFF + (uint64_t)s * 32 + 16, 1,
                                   VIRTQ_DESC_F_WRITE, 0};
  r->busy[s] = 1;
  r->want_len[s] = (device_writes ? len : 0) + 1;
  r->avail->ring[r->avail_idx % QSIZE] = (uint16_t)d0;
  r->avail_idx++;
  r->submitted++;
  /* The ring entry and descriptors before the index the device reads. */
  __atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
  return 0;
}

/* Tell the device about what was made available, unless it said it does
 * not need to hear (VRING_USED_F_NO_NOTIFY). */
static int kick(ring *r) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (__atomic_load_n(&r->used->flags, __ATOMIC_ACQUIRE) & 1)
    return 0;
  uint64_t one = 1;
  r->kicks++;
  return write(r->kick, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -1;
}

/* Consume the used ring; returns how many requests finished. */
static unsigned harvest(ring *r, unsigned *done, unsigned max) {
  unsigned n = 0;
  uint16_t idx = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);
  while (r->last_used != idx) {
    struct virtq_used_elem e = r->used->ring[r->last_used % QSIZE];
    r->last_used++;
    unsigned s = e.id / DESC_PER_SLOT;
    if (e.id % DESC_PER_SLOT != 0 || s >= SLOTS || !r->busy[s]) {
      fprintf(stderr,
              "vmm-blk: the device returned descriptor %" PRIu32
              ", which heads no request in flight\n",
              e.id);
      continue;
    }
    r->busy[s] = 0;
    r->got_len[s] = e.len;
    r->status[s] = r->ram[HDR_OFF + (size_t)s * 32 + 16];
    if (n < max)
      done[n] = s;
    n++;
  }
  return n;
}

/* Wait (bounded) for at least one completion; returns how many, 0 on
 * timeout, -1 on error. */
static int wait_some(ring *r, unsigned *done, unsigned max, int ms) {
  for (;;) {
    unsigned n = harvest(r, done, max);
    if (n > 0)
      return (int)n;
    struct pollfd p = {r->call, POLLIN, 0};
    r->waits++;
    int k = poll(&p, 1, ms);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return -1;
    if (k == 0)
      return (int)harvest(r, done, max);
    uint64_t v;
    if (read(r->call, &v, sizeof v) < 0 && errno != EAGAIN)
      return -1;
  }
}

/* Run requests already submitted to completion: every slot in flight. */
static int drain(ring *r) {
  unsigned done[SLOTS];
  if (r->dead)
    return -1;
  double end = now_s() + timeout_s;
  for (;;) {
    int busy = 0;
    for (unsigned s = 0; s < SLOTS; s++)
      busy += r->busy[s];
    if (busy == 0)
      return 0;
    int ms = (int)((end - now_s()) * 1000);
    if (ms <= 0 || wait_some(r, done, SLOTS, ms) <= 0) {
      fprintf(stderr,
              "vmm-blk: %d request(s) not completed within %u s "
              "(step: %s)\n",
              busy, timeout_s, current_step);
      r->dead = 1;
      return -1;
    }
  }
}

/* One request, waited for. Returns its status, or -1. */
static int one(ring *r, uint32_t type, uint64_t sector, uint32_t len) {
  if (r->dead)
    return -1;
  if (submit(r, 0, type, sector, len) != 0 || kick(r) != 0 || drain(r) != 0)
    return -1;
  return r->status[0];
}

static const char *status_name(int st) {
  switch (st) {
  case VIRTIO_BLK_S_OK: return "OK";
  case VIRTIO_BLK_S_IOERR: return "IOERR";
  case VIRTIO_BLK_S_UNSUPP: return "UNSUPP";
  case -1: return "no completion";
  default: return "not a virtio-blk status";
  }
}

/* ---- vhost-user requests ---- */

static shmap_msg reply;

static int call(shmap_channel *ch, uint32_t req, const void *p, size_t n,
                const int *fds, size_t nfds, shmap_msg *out) {
  return shmap_channel_call(ch, req, p, n, fds, nfds, out);
}

static int vring_state(shmap_channel *ch, uint32_t req, uint32_t num) {
  uint8_t p[VRING_STATE_BYTES];
  put32(p, 0);
  put32(p + 4, num);
  return call(ch, req, p, sizeof p, NULL, 0, NULL);
}

static int vring_fd(shmap_channel *ch, uint32_t req, int fd) {
  uint8_t p[8];
  put64(p, 0); /* index 0, with a descriptor */
  return call(ch, req, p, sizeof p, &fd, 1, NULL);
}

static int get_features(shmap_channel *ch, uint64_t *v) {
  int rc = call(ch, SHMAP_REQ_GET_FEATURES, NULL, 0, NULL, 0, &reply);
  if (rc == 0) {
    rc = shmap_msg_u64(&reply, v);
    shmap_msg_release(&reply);
  }
  return rc;
}

static int vfail(const char *name, int rc) {
  fail(name, "%s: %s", shmap_err_name(rc), shmap_last_message());
  return 1;
}

typedef struct vmm {
  shmap_channel *ch;
  shmap_mappable *ram;
  shmap_window *guest;
  shmap_region region;
  int slots; /* CONFIGURE_MEM_SLOTS agreed: ADD/REM_MEM_REG */
  uint64_t features, protocol;
  uint64_t capacity; /* sectors */
  uint32_t blk_size;
  ring r;
} vmm;

/* Connect, negotiate, read the config space, share RAM, set up the vring. */
static int setup(vmm *v, const char *sock) {
  int rc;
  step("connect");
  double end = now_s() + timeout_s;
  while ((rc = shmap_channel_connect(sock, SHMAP_ROLE_FRONTEND, 0, &v->ch)) ==
             SHMAP_ECONNREFUSED &&
         now_s() < end)
    nanosleep(&(struct timespec){0, 20000000L}, NULL);
  if (rc != 0)
    return vfail("connect", rc);
  shmap_channel_set_timeout(v->ch, (int)timeout_s * 1000);

  step("negotiate");
  uint64_t want =
      UINT64_C(1) << VIRTIO_F_VERSION_1 | UINT64_C(1) << VIRTIO_BLK_F_SIZE_MAX |
      UINT64_C(1) << VIRTIO_BLK_F_SEG_MAX |
      UINT64_C(1) << VIRTIO_BLK_F_BLK_SIZE | UINT64_C(1) << VIRTIO_BLK_F_FLUSH;
  shmap_negotiation neg;
  memset(&neg, 0, sizeof neg);
  rc = shmap_frontend_negotiate(
      v->ch, want, SHMAP_PROTOCOL_F_CONFIG | PROTOCOL_F_STATUS, &neg);
  if (rc != 0)
    return vfail("negotiate", rc);
  v->features = neg.features;
  v->protocol = neg.protocol_features;
  v->slots = (v->protocol & SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS) != 0;
  pass("negotiate",
       "features offered 0x%" PRIx64 " acked 0x%" PRIx64
       ", protocol offered 0x%" PRIx64 " agreed 0x%" PRIx64,
       neg.offered_features, neg.features, neg.offered_protocol,
       neg.protocol_features);
  if (!(v->features & SHMAP_VIRTIO_F_VERSION_1)) {
    fail("negotiate", "the device is not a virtio 1.0 device");
    return 1;
  }
  if (neg.offered_features & UINT64_C(1) << VIRTIO_BLK_F_RO)
    printf("note: the device is read-only (VIRTIO_BLK_F_RO): writes will "
           "fail\n");

  step("GET_CONFIG");
  if (!(v->protocol & SHMAP_PROTOCOL_F_CONFIG)) {
    fail("GET_CONFIG", "protocol feature CONFIG not agreed: no config space");
    return 1;
  }
  uint8_t cfg[CONFIG_HDR + VIRTIO_BLK_CFG_BYTES];
  memset(cfg, 0, sizeof cfg);
  put32(cfg + 4, VIRTIO_BLK_CFG_BYTES);
  rc = call(v->ch, SHMAP_REQ_GET_CONFIG, cfg, sizeof cfg, NULL, 0, &reply);
  if (rc != 0)
    return vfail("GET_CONFIG", rc);
  if (reply.hdr.size != sizeof cfg ||
      get32(reply.payload + 4) != VIRTIO_BLK_CFG_BYTES) {
    fail("GET_CONFIG", "answer of %" PRIu32 " bytes, expected %zu",
         reply.hdr.size, sizeof cfg);
    shmap_msg_release(&reply);
    return 1;
  }
  const uint8_t *c = reply.payload + CONFIG_HDR;
  v->capacity = get64(c + VIRTIO_BLK_CFG_CAPACITY);
  uint32_t size_max = get32(c + VIRTIO_BLK_CFG_SIZE_MAX);
  uint32_t seg_max = get32(c + VIRTIO_BLK_CFG_SEG_MAX);
  v->blk_size = get32(c + VIRTIO_BLK_CFG_BLK_SIZE);
  uint16_t nq = (uint16_t)(c[VIRTIO_BLK_CFG_NUM_QUEUES] |
                           c[VIRTIO_BLK_CFG_NUM_QUEUES + 1] << 8);
  shmap_msg_release(&reply);
  if (v->features & UINT64_C(1) << VIRTIO_BLK_F_SIZE_MAX)
    v->r.size_max = size_max;
  if (v->features & UINT64_C(1) << VIRTIO_BLK_F_SEG_MAX)
    v->r.seg_max = seg_max;
  pass("GET_CONFIG",
       "capacity %" PRIu64 " sectors (%" PRIu64 " bytes), blk_size %" PRIu32
       ", size_max %" PRIu32 ", seg_max %" PRIu32 ", num_queues %u",
       v->capacity, v->capacity * VIRTIO_BLK_SECTOR, v->blk_size, size_max,
       seg_max, nq);
  if (v->capacity == 0) {
    fail("GET_CONFIG", "capacity 0");
    return 1;
  }

  step("memory");
  rc = shmap_mappable_create(RAM_SIZE, 0, &v->ram);
  if (rc == 0)
    rc = shmap_window_reserve(WINDOW_SIZE, 0, &v->guest);
  if (rc == 0)
    rc =
        shmap_window_map(v->guest, RAM_GPA, v->ram, 0, RAM_SIZE, SHMAP_PROT_RW);
  if (rc != 0)
    return vfail("memory", rc);
  uint8_t *host = shmap_window_translate(v->guest, RAM_GPA, RAM_SIZE);
  v->region = (shmap_region){.guest_address = RAM_GPA,
                             .size = RAM_SIZE,
                             .mappable = v->ram,
                             .file_offset = 0,
                             .host = host};
  step(v->slots ? "ADD_MEM_REG" : "SET_MEM_TABLE");
  rc = v->slots ? shmap_frontend_add_region(v->ch, &v->region)
                : shmap_frontend_set_mem_table(v->ch, &v->region, 1);
  if (rc != 0)
    return vfail(current_step, rc);
  pass(current_step,
       "%" PRIu64 " MiB of guest RAM at guest address 0x%" PRIx64 ", host %p",
       RAM_SIZE >> 20, RAM_GPA, (void *)host);

  /* The vring, in guest RAM. */
  ring *r = &v->r;
  r->ram = host;
  r->desc = (struct virtq_desc *)(void *)(host + DESC_OFF);
  r->avail = (struct virtq_avail *)(void *)(host + AVAIL_OFF);
  r->used = (struct virtq_used *)(void *)(host + USED_OFF);
  r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->kick < 0 || r->call < 0) {
    fail("vring", "eventfd: %s", strerror(errno));
    return 1;
  }
  step("SET_VRING_NUM");
  rc = vring_state(v->ch, SHMAP_REQ_SET_VRING_NUM, QSIZE);
  if (rc == 0) {
    step("SET_VRING_BASE");
    rc = vring_state(v->ch, SHMAP_REQ_SET_VRING_BASE, 0);
  }
  if (rc == 0) {
    /* Addresses in the front end's userspace_addr space: the region's
     * `host`. The log address is unused (no VHOST_F_LOG_ALL). */
    uint8_t a[VRING_ADDR_BYTES];
    memset(a, 0, sizeof a);
    put64(a + 8, (uint64_t)(uintptr_t)(host + DESC_OFF));
    put64(a + 16, (uint64_t)(uintptr_t)(host + USED_OFF));
    put64(a + 24, (uint64_t)(uintptr_t)(host + AVAIL_OFF));
    step("SET_VRING_ADDR");
    rc = call(v->ch, SHMAP_REQ_SET_VRING_ADDR, a, sizeof a, NULL, 0, NULL);
  }
  if (rc == 0) {
    step("SET_VRING_CALL");
    rc = vring_fd(v->ch, SHMAP_REQ_SET_VRING_CALL, r->call);
  }
  if (rc == 0) {
    step("SET_VRING_KICK");
    rc = vring_fd(v->ch, SHMAP_REQ_SET_VRING_KICK, r->kick);
  }
  /* With VHOST_USER_F_PROTOCOL_FEATURES the ring starts disabled. */
  if (rc == 0 && (v->features & SHMAP_VHOST_F_PROTOCOL_FEATURES)) {
    step("SET_VRING_ENABLE");
    rc = vring_state(v->ch, SHMAP_REQ_SET_VRING_ENABLE, 1);
  }
  if (rc == 0 && (v->protocol & PROTOCOL_F_STATUS)) {
    uint8_t st[8];
    put64(st, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    step("SET_STATUS");
    rc = call(v->ch, SHMAP_REQ_SET_STATUS, st, sizeof st, NULL, 0, NULL);
  }
  if (rc != 0)
    return vfail(current_step, rc);
  pass("vring",
       "%u entries: desc 0x%" PRIx64 " avail 0x%" PRIx64 " used 0x%" PRIx64
       " (guest), kick and call eventfds%s%s",
       QSIZE, RAM_GPA + DESC_OFF, RAM_GPA + AVAIL_OFF, RAM_GPA + USED_OFF,
       (v->features & SHMAP_VHOST_F_PROTOCOL_FEATURES) ? ", enabled" : "",
       (v->protocol & PROTOCOL_F_STATUS) ? ", DRIVER_OK" : "");
  alarm(0);
  return 0;
}

/* Read `len` bytes at `sector` with slot 0 and check them against the image
 * of `seed`. */
static void check_read(vmm *v, const char *name, uint64_t sector, uint32_t len,
                       uint64_t seed) {
  memset(slot_data(&v->r, 0), 0, len);
  int st = one(&v->r, VIRTIO_BLK_T_IN, sector, len);
  if (st != VIRTIO_BLK_S_OK) {
    fail(name, "read of %" PRIu32 " bytes at sector %" PRIu64 ": status %s",
         len, sector, status_name(st));
    return;
  }
  long long at =
      mismatch(seed, sector * VIRTIO_BLK_SECTOR, slot_data(&v->r, 0), len);
  if (at >= 0)
    fail(name, "sector %" PRIu64 ": byte %lld of %" PRIu32 " differs (0x%02x)",
         sector, at, len, slot_data(&v->r, 0)[at]);
  else if (v->r.got_len[0] != len + 1)
    fail(name, "data right, but the used length is %" PRIu32 ", not %" PRIu32,
         v->r.got_len[0], len + 1);
  else
    pass(name, "%" PRIu32 " bytes at sector %" PRIu64 ", every byte as known",
         len, sector);
}

/* Does process `pid` map the memory of `m` (matched by inode)? Waits, bounded,
 * until the answer is `want`; -1 when its maps cannot be read. */
static int wait_peer_maps(long pid, shmap_mappable *m, int want) {
  struct stat sb;
  if (fstat(shmap_mappable_native(m), &sb) != 0)
    return -1;
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%ld/maps", pid);
  double end = now_s() + timeout_s;
  for (;;) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
      return -1;
    int found = 0;
    while (fgets(line, sizeof line, f) != NULL) {
      unsigned long ino = 0;
      if (sscanf(line, "%*s %*s %*s %*s %lu", &ino) == 1 &&
          ino == (unsigned long)sb.st_ino)
        found = 1;
    }
    fclose(f);
    if (found == want || now_s() >= end)
      return found;
    nanosleep(&(struct timespec){0, 20000000L}, NULL);
  }
}

static int functional(vmm *v, uint64_t seed, uint64_t write_at, long peer_pid) {
  ring *r = &v->r;
  uint64_t bytes = v->capacity * VIRTIO_BLK_SECTOR;
  step("read");
  check_read(v, "read-sector0", 0, VIRTIO_BLK_SECTOR, seed);
  check_read(v, "read-sector7", 7, VIRTIO_BLK_SECTOR, seed);
  check_read(v, "read-last", v->capacity - 1, VIRTIO_BLK_SECTOR, seed);
  if (bytes >= UINT64_C(2) * DATA_MAX)
    check_read(v, "read-64k", (bytes / 2 - DATA_MAX) / VIRTIO_BLK_SECTOR,
               DATA_MAX, seed);

  if (r->dead)
    return 1;
  /* Writes: 64 KiB in one request, then 16 x 4 KiB all in flight. */
  if (write_at == UINT64_MAX)
    write_at = (v->capacity / 2) & ~UINT64_C(127);
  if ((write_at + WRITE_BYTES / VIRTIO_BLK_SECTOR) > v->capacity) {
    fail("write", "sector %" PRIu64 " + 128 KiB is past the end", write_at);
    return 1;
  }
  uint64_t wseed = seed + 1, wbyte = write_at * VIRTIO_BLK_SECTOR;
  step("write");
  pattern(wseed, wbyte, slot_data(r, 0), WRITE_BIG);
  int st = one(r, VIRTIO_BLK_T_OUT, write_at, WRITE_BIG);
  if (st != VIRTIO_BLK_S_OK)
    fail("write-64k", "status %s", status_name(st));
  else
    pass("write-64k", "64 KiB at sector %" PRIu64, write_at);
  uint64_t small0 = write_at + WRITE_BIG / VIRTIO_BLK_SECTOR;
  for (unsigned i = 0; i < WRITE_SMALL_N; i++) {
    uint64_t sec = small0 + (uint64_t)i * (WRITE_SMALL / VIRTIO_BLK_SECTOR);
    pattern(wseed, sec * VIRTIO_BLK_SECTOR, slot_data(r, i), WRITE_SMALL);
    if (submit(r, i, VIRTIO_BLK_T_OUT, sec, WRITE_SMALL) != 0)
      return 1;
  }
  st = kick(r) == 0 && drain(r) == 0 ? 0 : -1;
  for (unsigned i = 0; st == 0 && i < WRITE_SMALL_N; i++)
    if (r->status[i] != VIRTIO_BLK_S_OK)
      st = r->status[i];
  if (st != 0)
    fail("write-4k-qd16", "status %s", status_name(st));
  else
    pass("write-4k-qd16", "16 x 4 KiB in flight together from sector %" PRIu64,
         small0);

  if (r->dead)
    return 1;
  step("read back");
  /* Back one at a time as written, and all 32 x 4 KiB in flight. */
  check_read(v, "readback-64k", write_at, WRITE_BIG, wseed);
  for (unsigned i = 0; i < 2 * WRITE_SMALL_N; i++) {
    memset(slot_data(r, i), 0, WRITE_SMALL);
    if (submit(r, i, VIRTIO_BLK_T_IN,
               write_at + (uint64_t)i * (WRITE_SMALL / VIRTIO_BLK_SECTOR),
               WRITE_SMALL) != 0)
      return 1;
  }
  int bad = kick(r) == 0 && drain(r) == 0 ? 0 : 1;
  for (unsigned i = 0; !bad && i < 2 * WRITE_SMALL_N; i++) {
    uint64_t sec = write_at + (uint64_t)i * (WRITE_SMALL / VIRTIO_BLK_SECTOR);
    if (r->status[i] != VIRTIO_BLK_S_OK ||
        mismatch(wseed, sec * VIRTIO_BLK_SECTOR, slot_data(r, i),
                 WRITE_SMALL) >= 0) {
      fail("readback-qd32", "4 KiB at sector %" PRIu64 ": status %s%s", sec,
           status_name(r->status[i]),
           r->status[i] == 0 ? ", data differs" : "");
      bad = 1;
    }
  }
  if (!bad)
    pass("readback-qd32", "the 128 KiB written, as 32 x 4 KiB in flight: every "
                          "byte as written");
  /* Unwritten neighbours are untouched. */
  if (write_at > 0)
    check_read(v, "read-before", write_at - 1, VIRTIO_BLK_SECTOR, seed);
  if (write_at + WRITE_BYTES / VIRTIO_BLK_SECTOR < v->capacity)
    check_read(v, "read-after", write_at + WRITE_BYTES / VIRTIO_BLK_SECTOR,
               VIRTIO_BLK_SECTOR, seed);

  if (r->dead)
    return 1;
  step("GET_ID");
  memset(slot_data(r, 0), 0, VIRTIO_BLK_ID_BYTES);
  st = one(r, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
  if (st != VIRTIO_BLK_S_OK) {
    fail("GET_ID", "status %s", status_name(st));
  } else {
    char id[VIRTIO_BLK_ID_BYTES + 1];
    memcpy(id, slot_data(r, 0), VIRTIO_BLK_ID_BYTES);
    id[VIRTIO_BLK_ID_BYTES] = 0;
    for (char *p = id; *p; p++)
      if (*p < 0x20 || *p > 0x7e)
        *p = '?';
    pass("GET_ID", "\"%s\"", id);
  }

  step("FLUSH");
  if (v->features & UINT64_C(1) << VIRTIO_BLK_F_FLUSH) {
    st = one(r, VIRTIO_BLK_T_FLUSH, 0, 0);
    if (st != VIRTIO_BLK_S_OK)
      fail("FLUSH", "status %s", status_name(st));
    else
      pass("FLUSH", "status OK");
  } else {
    printf("skip FLUSH          the device did not offer VIRTIO_BLK_F_FLUSH\n");
  }

  step("read past end");
  st = one(r, VIRTIO_BLK_T_IN, v->capacity, VIRTIO_BLK_SECTOR);
  if (st == VIRTIO_BLK_S_OK || st < 0)
    fail("read-past-end", "sector %" PRIu64 " (the capacity): status %s",
         v->capacity, status_name(st));
  else
    pass("read-past-end", "sector %" PRIu64 " refused with %s", v->capacity,
         status_name(st));

  /* Stop the ring; the device says where it stopped: every request made
   * available was taken. */
  step("GET_VRING_BASE");
  uint8_t p[VRING_STATE_BYTES];
  put32(p, 0);
  put32(p + 4, 0);
  int rc = call(v->ch, SHMAP_REQ_GET_VRING_BASE, p, sizeof p, NULL, 0, &reply);
  if (rc != 0)
    return vfail("GET_VRING_BASE", rc);
  uint32_t base = reply.hdr.size == 8 ? get32(reply.payload + 4) : UINT32_MAX;
  shmap_msg_release(&reply);
  if (base != (r->submitted & 0xffffu))
    fail("GET_VRING_BASE",
         "the device stopped at %" PRIu32 ", %" PRIu32
         " requests were made available",
         base, r->submitted);
  else
    pass("GET_VRING_BASE", "stopped at %" PRIu32 " = requests made available",
         base);

  if (v->slots) {
    step("REM_MEM_REG");
    if (peer_pid > 0 && wait_peer_maps(peer_pid, v->ram, 1) != 1)
      fail("peer-maps", "the back end (pid %ld) does not map guest RAM",
           peer_pid);
    rc = shmap_frontend_remove_region(v->ch, &v->region);
    if (rc != 0)
      return vfail("REM_MEM_REG", rc);
    int mapped = peer_pid > 0 ? wait_peer_maps(peer_pid, v->ram, 0) : -1;
    if (mapped == 1)
      fail("REM_MEM_REG", "the back end (pid %ld) still maps guest RAM",
           peer_pid);
    else
      pass("REM_MEM_REG", "guest RAM no longer shared%s",
           mapped == 0 ? " (gone from the back end's /proc/PID/maps)" : "");
  } else {
    printf("skip REM_MEM_REG    CONFIGURE_MEM_SLOTS not agreed, and "
           "vhost-user has no empty SET_MEM_TABLE\n");
  }

  step("GET_FEATURES");
  uint64_t f2 = 0;
  rc = get_features(v->ch, &f2);
  if (rc != 0)
    return vfail("still-connected", rc);
  pass("still-connected", "GET_FEATURES answered again: 0x%" PRIx64, f2);
  alarm(0);
  return 0;
}

/* ---- --bench ---- */

static uint64_t rng_next(uint64_t *s) {
  *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
  return *s >> 33;
}

/* CPU time process `pid` has used, all threads (those ended too), in
 * seconds: utime + stime of /proc/PID/stat; -1 when unknown. Tick
 * resolution (10 ms): enough over a row of seconds. */
static double peer_cpu_s(long pid) {
  char path[64], buf[1024];
  if (pid <= 0)
    return -1;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  unsigned long long ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2,
                          "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                          "%llu %llu",
                          &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int bench_one(vmm *v, uint32_t bs, unsigned qd, double seconds,
                     int quiet, long peer_pid) {
  ring *r = &v->r;
  uint64_t blocks = v->capacity * VIRTIO_BLK_SECTOR / bs, seed = 42, ops = 0;
  if (blocks == 0) {
    fail("bench", "the disk is smaller than %" PRIu32 " bytes", bs);
    return 1;
  }
  uint64_t kicks0 = r->kicks, waits0 = r->waits;
  double cpu0 = peer_cpu_s(peer_pid);
  unsigned done[SLOTS];
  double t0 = now_s(), end = t0 + seconds;
  step("bench");
  for (unsigned s = 0; s < qd; s++)
    if (submit(r, s, VIRTIO_BLK_T_IN,
               rng_next(&seed) % blocks * (bs / VIRTIO_BLK_SECTOR), bs) != 0)
      return 1;
  if (kick(r) != 0)
    return 1;
  int more = 1;
  for (;;) {
    int n = wait_some(r, done, SLOTS, (int)timeout_s * 1000);
    if (n <= 0) {
      fail("bench", "no completion within %u s", timeout_s);
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (r->status[done[i]] != VIRTIO_BLK_S_OK) {
        fail("bench", "read status %s", status_name(r->status[done[i]]));
        return 1;
      }
      ops++;
    }
    if (more && now_s() >= end)
      more = 0;
    if (more) {
      for (int i = 0; i < n; i++)
        if (submit(r, done[i], VIRTIO_BLK_T_IN,
                   rng_next(&seed) % blocks * (bs / VIRTIO_BLK_SECTOR),
                   bs) != 0)
          return 1;
      if (kick(r) != 0)
        return 1;
    } else {
      int busy = 0;
      for (unsigned s = 0; s < SLOTS; s++)
        busy += r->busy[s];
      if (busy == 0)
        break;
    }
  }
  double t = now_s() - t0, cpu1 = peer_cpu_s(peer_pid);
  alarm(0);
  if (quiet)
    return 0;
  printf("{\"bench\":\"read\",\"bs\":%" PRIu32 ",\"qd\":%u,\"ops\":%" PRIu64
         ",\"seconds\":%.3f,\"ops_per_s\":%.0f,\"mib_per_s\":%.1f,"
         "\"kicks_per_op\":%.2f,\"waits_per_op\":%.2f",
         bs, qd, ops, t, (double)ops / t,
         (double)ops * bs / t / (1024.0 * 1024.0),
         (double)(r->kicks - kicks0) / (double)ops,
         (double)(r->waits - waits0) / (double)ops);
  /* The back end's CPU per request: steadier than ops/s on a busy host. */
  if (cpu0 >= 0 && cpu1 >= 0)
    printf(",\"peer_cpu_us_per_op\":%.1f", (cpu1 - cpu0) * 1e6 / (double)ops);
  printf("}\n");
  fflush(stdout);
  alarm(0);
  return 0;
}

static void teardown(vmm *v) {
  shmap_channel_close(v->ch);
  if (v->r.kick > 0)
    close(v->r.kick);
  if (v->r.call > 0)
    close(v->r.call);
  shmap_window_release(v->guest);
  shmap_mappable_unref(v->ram);
}

static int usage(void) {
  fputs("usage: vmm-blk SOCK [--seed N] [--write-at SECTOR] [--peer-pid PID] "
        "[--timeout S]\n"
        "       vmm-blk SOCK --bench [--seconds S] [--row BS:QD] [--peer-pid "
        "PID] "
        "[--timeout S]\n"
        "       vmm-blk --make-image FILE BYTES SEED\n"
        "       vmm-blk --check-image FILE SEED [SECTOR]\n",
        stderr);
  return 2;
}

static uint64_t num(const char *s) { return strtoull(s, NULL, 0); }

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--make-image") == 0)
    return argc == 5 ? make_image(argv[2], num(argv[3]), num(argv[4]))
                     : usage();
  if (argc >= 2 && strcmp(argv[1], "--check-image") == 0) {
    if (argc != 4 && argc != 5)
      return usage();
    return check_image(argv[2], num(argv[3]),
                       argc == 5 ? num(argv[4]) * VIRTIO_BLK_SECTOR
                                 : UINT64_MAX);
  }
  if (argc < 2 || argv[1][0] == '-')
    return usage();
  uint64_t seed = 1, write_at = UINT64_MAX;
  long peer_pid = 0;
  int bench = 0;
  double seconds = 2;
  uint32_t only_bs = 0; /* --row BS:QD: that row alone, no warm-up */
  unsigned only_qd = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--bench") == 0) {
      bench = 1;
      continue;
    }
    if (i + 1 >= argc)
      return usage();
    if (strcmp(a, "--seed") == 0)
      seed = num(argv[++i]);
    else if (strcmp(a, "--write-at") == 0)
      write_at = num(argv[++i]);
    else if (strcmp(a, "--peer-pid") == 0)
      peer_pid = strtol(argv[++i], NULL, 10);
    else if (strcmp(a, "--row") == 0 &&
             sscanf(argv[++i], "%" SCNu32 ":%u", &only_bs, &only_qd) == 2)
      bench = only_qd > 0;
    else if (strcmp(a, "--seconds") == 0)
      seconds = strtod(argv[++i], NULL);
    else if (strcmp(a, "--timeout") == 0)
      timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
    else
      return usage();
  }
  if (timeout_s == 0)
    timeout_s = 10;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  static vmm v;
  v.r.kick = v.r.call = -1;
  if (setup(&v, argv[1]) != 0) {
    teardown(&v);
    printf("vmm-blk: FAIL (set-up)\n");
    return 1;
  }
  if (bench) {
    static const uint32_t sizes[] = {4096, 65536};
    static const unsigned depths[] = {1, 16};
    /* Warm up (page cache, the device's first requests), not reported. */
    if (only_bs == 0)
      bench_one(&v, 65536, 16, seconds / 4, 1, 0);
    for (size_t i = 0; i < 2 && failures == 0; i++)
      for (size_t j = 0; j < 2 && failures == 0; j++)
        if (only_bs == 0 || (only_bs == sizes[i] && only_qd == depths[j]))
          bench_one(&v, sizes[i], depths[j], seconds, 0, peer_pid);
  } else {
    functional(&v, seed, write_at, peer_pid);
  }
  teardown(&v);
  printf("vmm-blk: %s (%d failure%s)\n", failures ? "FAIL" : "OK", failures,
         failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
