/* shmap demo — the main job in two processes.
 *
 *   shmap demo frontend --listen ADDR [--regions N] [--region-size SIZE]
 *   shmap demo backend  --connect ADDR [--regions N] [--region-size SIZE]
 *
 * The front end creates guest RAM (N regions) in its own guest window, fills
 * the first half of each with a pattern, hands the back end its back-end
 * request socket (SET_BACKEND_REQ_FD) and shares the regions over the main
 * channel (ADD_MEM_REG). The back end maps them at their guest addresses,
 * checks the front end's half and writes its own pattern into the second
 * half, then asks the front end, on the back-end request socket, to map a
 * buffer of its own into shared-memory window 0 (SHMEM_MAP). The front
 * end checks the back end's bytes in guest RAM and in the buffer, writes an
 * answer into the buffer, and the back end checks that before unmapping.
 * Each side exits non-zero on any mismatch; the front end prints a report. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* One region per GiB of guest space. */
#define GUEST_STRIDE (UINT64_C(1) << 30)

struct demo_opts {
  const char *addr;
  int regions;
  uint64_t size;
};

static double now_us(void) { return (double)shmap_time_ns() / 1e3; }

static uint8_t pat(uint32_t seed, uint64_t i) {
  return (uint8_t)(((i + seed) * 0x9E3779B97F4A7C15ull) >> 56 ^ seed);
}

static void fill(uint8_t *p, uint64_t n, uint32_t seed) {
  for (uint64_t i = 0; i < n; i++)
    p[i] = pat(seed, i);
}

/* Number of bytes that differ from the pattern. */
static uint64_t check(const uint8_t *p, uint64_t n, uint32_t seed) {
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad += p[i] != pat(seed, i);
  return bad;
}

static const char help[] =
    "usage: shmap demo frontend --listen ADDR [--regions N] [--region-size "
    "SIZE]\n"
    "       shmap demo backend --connect ADDR [--regions N] [--region-size "
    "SIZE]\n"
    "\n"
    "The main job in two processes: start the front end, then the back end "
    "with\n"
    "the same --regions and --region-size. The front end shares N regions of\n"
    "guest RAM (ADD_MEM_REG), the back end checks and writes them and maps a\n"
    "buffer of its own into the front end's shared-memory window "
    "(SHMEM_MAP);\n"
    "each side checks the other's bytes. The front end prints a report; each\n"
    "side exits 1 on a mismatch or a failure (printed as the JSON line\n"
    "{\"event\":\"error\",\"error\":\"SHMAP_E...\",\"message\":"
    "\"...\"}).\n"
    "\n"
    "Options:\n"
    "  --listen ADDR       frontend: where to wait for the back end (a Unix\n"
    "                      socket path; on Windows a named pipe)\n"
    "  --connect ADDR      backend: the front end's address\n"
    "  --regions N         regions of guest RAM, 1 to 64 (default 4)\n"
    "  --region-size SIZE  bytes per region, K, M or G binary (default 16M)\n"
    "  -h, --help          this help\n";

enum { O_LISTEN = 256, O_CONNECT, O_REGIONS, O_REGION_SIZE };

/* 1 for --help, 2 for a usage error. */
static int parse(int argc, char **argv, int front, struct demo_opts *o) {
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},
      {"listen", required_argument, NULL, O_LISTEN},
      {"connect", required_argument, NULL, O_CONNECT},
      {"regions", required_argument, NULL, O_REGIONS},
      {"region-size", required_argument, NULL, O_REGION_SIZE},
      {NULL, 0, NULL, 0}};
  const char *cmd = front ? "demo frontend" : "demo backend";
  o->addr = NULL;
  o->regions = 4;
  o->size = UINT64_C(16) << 20;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
    char *end;
    long n;
    switch (c) {
    case 'h': fputs(help, stdout); return 1;
    case O_LISTEN:
    case O_CONNECT:
      if ((c == O_LISTEN) != front)
        return tool_usage_error(cmd, "--%s is for demo %s",
                                c == O_LISTEN ? "listen" : "connect",
                                front ? "backend" : "frontend");
      o->addr = optarg;
      break;
    case O_REGIONS:
      n = strtol(optarg, &end, 10);
      if (end == optarg || *end != '\0' || n < 1 || n > 64)
        return tool_usage_error(cmd, "--regions: bad count '%s' (1 to 64)",
                                optarg);
      o->regions = (int)n;
      break;
    case O_REGION_SIZE:
      if (tool_opt_size(cmd, "--region-size", optarg, &o->size) != 0)
        return 2;
      if (o->size < 2 || o->size > GUEST_STRIDE)
        return tool_usage_error(cmd, "--region-size: '%s' is not 2 to 1G",
                                optarg);
      break;
    default: return tool_bad_option(cmd, c, argv);
    }
  }
  if (optind < argc)
    return tool_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (o->addr == NULL)
    return tool_usage_error(cmd, "missing %s ADDR",
                            front ? "--listen" : "--connect");
  return 0;
}

static int die(const char *who, const char *what) {
  char buf[128];
  snprintf(buf, sizeof buf, "demo %s: %s", who, what);
  return tool_fatal(0, buf, NULL);
}

/* ---------------------------------------------------------------- front */

static int frontend(int argc, char **argv) {
  struct demo_opts o;
  int prc = parse(argc, argv, 1, &o);
  if (prc != 0)
    return prc == 1 ? 0 : prc;
  uint64_t half = o.size / 2, verified = 0, bad = 0;
  shmap_mappable *ram[64] = {0};
  shmap_window *guest = NULL, *bar = NULL;
  shmap_frontend *fe = NULL;
  shmap_listener *l = NULL;
  shmap_channel *ch = NULL, *req = NULL;
  int rc = shmap_window_reserve((uint64_t)o.regions * GUEST_STRIDE, 0, &guest);
  if (rc == 0)
    rc = shmap_window_reserve(UINT64_C(64) << 20, 0, &bar);
  for (int i = 0; rc == 0 && i < o.regions; i++) {
    rc = shmap_mappable_create(o.size, 0, &ram[i]);
    if (rc == 0)
      rc = shmap_window_map(guest, (uint64_t)i * GUEST_STRIDE, ram[i], 0,
                            o.size, SHMAP_PROT_RW);
    if (rc == 0)
      fill(shmap_window_translate(guest, (uint64_t)i * GUEST_STRIDE, half),
           half, (uint32_t)i + 1);
  }
  if (rc == 0)
    rc = shmap_frontend_create(NULL, &fe);
  if (rc == 0)
    rc = shmap_frontend_add_window(fe, 0, bar);
  if (rc == 0)
    rc = shmap_listener_open(o.addr, &l);
  if (rc != 0)
    return die("frontend", "setup");
  printf("front end: %d regions of %llu MiB in a %llu GiB guest window, "
         "waiting for the back end on %s\n",
         o.regions, (unsigned long long)(o.size >> 20),
         (unsigned long long)((uint64_t)o.regions * GUEST_STRIDE >> 30),
         o.addr);
  fflush(stdout);
  if (shmap_listener_accept(l, SHMAP_ROLE_FRONTEND, 0, &ch) != 0)
    return die("frontend", "accept");
  /* The back end sends its requests on a socket of their own. */
  if (shmap_frontend_open_backend_channel(ch, 0, &req) != 0)
    return die("frontend", "SET_BACKEND_REQ_FD");

  /* The first request also pays for the back end's first touch of its
   * code and heap, so it is reported apart from the others. */
  double t_first = 0, t_rest = 0;
  for (int i = 0; i < o.regions; i++) {
    uint64_t gpa = (uint64_t)i * GUEST_STRIDE;
    /* host: where this process maps the region (its guest window). */
    shmap_region r = {.guest_address = gpa,
                      .size = o.size,
                      .mappable = ram[i],
                      .file_offset = 0,
                      .host = shmap_window_translate(guest, gpa, o.size)};
    double t0 = now_us();
    if (shmap_frontend_add_region(ch, &r) != 0)
      return die("frontend", "ADD_MEM_REG");
    double t = now_us() - t0;
    if (i == 0)
      t_first = t;
    else
      t_rest += t;
    printf("  shared region %d/%d at guest 0x%llx\n", i + 1, o.regions,
           (unsigned long long)r.guest_address);
    fflush(stdout);
  }

  /* The back end maps its buffer once it has written guest RAM. */
  shmap_event ev;
  double t0 = now_us();
  if (shmap_frontend_serve_one(fe, req, &ev) != 0 || ev.result != 0)
    return die("frontend", "SHMEM_MAP");
  double t_map = now_us() - t0;
  for (int i = 0; i < o.regions; i++) {
    const uint8_t *p =
        shmap_window_translate(guest, (uint64_t)i * GUEST_STRIDE + half, half);
    bad += check(p, half, 100u + (uint32_t)i);
    verified += half;
  }
  const shmap_wire_mmap *mm = &ev.msg.u.mmap;
  uint8_t *buf = shmap_window_translate(bar, mm->shm_offset, mm->len);
  bad += check(buf, mm->len / 2, 200);
  verified += mm->len / 2;
  fill(buf + mm->len / 2, mm->len / 2, 300); /* our answer */
  if (shmap_frontend_serve_one(fe, req, &ev) != 0 || ev.result != 0)
    return die("frontend", "SHMEM_UNMAP");
  shmap_platform_info pi;
  shmap_platform(&pi);
  printf("\nshmap demo (%s, window path %s)\n", pi.os, pi.window_path);
  printf("  regions shared       %d x %llu MiB\n", o.regions,
         (unsigned long long)(o.size >> 20));
  printf("  bytes verified here  %llu (back end's writes), mismatches %llu\n",
         (unsigned long long)verified, (unsigned long long)bad);
  printf("  messages             1 SET_BACKEND_REQ_FD, %d ADD_MEM_REG, "
         "1 SHMEM_MAP, 1 SHMEM_UNMAP (+ replies)\n",
         o.regions);
  printf("  ADD_MEM_REG          %.1f us the first round trip (send fd, map, "
         "reply)",
         t_first);
  if (o.regions > 1)
    printf(", then %.1f us each", t_rest / (o.regions - 1));
  printf("\n");
  printf(
      "  SHMEM_MAP            %.1f us from wait to mapped (includes the back "
      "end's writes)\n",
      t_map);
  printf("  window mappings now  %zu guest, %zu shared-memory\n",
         shmap_window_count(guest), shmap_window_count(bar));
  shmap_channel_close(req);
  shmap_channel_close(ch);
  shmap_listener_close(l);
  shmap_frontend_destroy(fe);
  shmap_window_release(guest);
  shmap_window_release(bar);
  for (int i = 0; i < o.regions; i++)
    shmap_mappable_unref(ram[i]);
  printf("%s\n", bad == 0 ? "OK: every byte matched both ways" : "MISMATCH");
  return bad == 0 ? 0 : 1;
}

/* ----------------------------------------------------------------- back */

static int backend(int argc, char **argv) {
  struct demo_opts o;
  int prc = parse(argc, argv, 0, &o);
  if (prc != 0)
    return prc == 1 ? 0 : prc;
  uint64_t half = o.size / 2, bad = 0;
  shmap_window *guest = NULL, *own = NULL;
  shmap_backend *be = NULL;
  shmap_channel *ch = NULL;
  shmap_mappable *buf = NULL;
  uint64_t blen = UINT64_C(1) << 20;
  int rc = shmap_window_reserve((uint64_t)o.regions * GUEST_STRIDE, 0, &guest);
  if (rc == 0)
    rc = shmap_backend_create(guest, NULL, &be);
  if (rc == 0)
    rc = shmap_channel_connect(o.addr, SHMAP_ROLE_BACKEND, 0, &ch);
  if (rc != 0)
    return die("backend", "setup");
  /* Answering the handshake makes the serve loop adopt the back-end
   * request socket the front end hands over (SET_BACKEND_REQ_FD). */
  shmap_backend_answer_handshake(be, 0, SHMAP_PROTOCOL_SHMAP_DEFAULT);
  while (shmap_backend_count(be) < (size_t)o.regions ||
         shmap_backend_request_channel(be) == NULL) {
    shmap_event ev;
    if (shmap_backend_serve_one(be, ch, &ev) != 0 || ev.result != 0)
      return die("backend",
                 shmap_wire_request_name_in(ev.direction, ev.request));
  }
  shmap_channel *req = shmap_backend_request_channel(be);
  /* Guest RAM through our own window: check the front end's half, write
   * ours. */
  for (int i = 0; i < o.regions; i++) {
    uint8_t *p =
        shmap_window_translate(guest, (uint64_t)i * GUEST_STRIDE, o.size);
    bad += check(p, half, (uint32_t)i + 1);
    fill(p + half, half, 100u + (uint32_t)i);
  }
  /* A buffer of our own for the front end's shared-memory window. */
  rc = shmap_mappable_create(blen, 0, &buf);
  if (rc == 0)
    rc = shmap_window_reserve(blen, 0, &own);
  if (rc == 0)
    rc = shmap_window_map(own, 0, buf, 0, blen, SHMAP_PROT_RW);
  if (rc != 0)
    return die("backend", "buffer");
  uint8_t *b = shmap_window_base(own);
  fill(b, blen / 2, 200);
  if (shmap_backend_shmem_map(req, 0, buf, 0, UINT64_C(2) << 20, blen,
                              SHMAP_PROT_RW) != 0)
    return die("backend", "SHMEM_MAP");
  /* The front end answers in the second half before it lets us unmap. */
  if (shmap_backend_shmem_unmap(req, 0, UINT64_C(2) << 20, blen) != 0)
    return die("backend", "SHMEM_UNMAP");
  bad += check(b + blen / 2, blen / 2, 300);
  unsigned long long checked = half * (unsigned long long)o.regions + blen / 2;
  fprintf(stderr,
          "back end: checked %llu bytes of the front end's, "
          "mismatches %llu\n",
          checked, (unsigned long long)bad);
  shmap_channel_close(ch);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  shmap_window_release(own);
  shmap_mappable_unref(buf);
  return bad == 0 ? 0 : 1;
}

int tool_demo(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "frontend") == 0)
    return frontend(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "backend") == 0)
    return backend(argc - 1, argv + 1);
  if (argc >= 2 &&
      (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(help, stdout);
    return 0;
  }
  if (argc < 2)
    return tool_usage_error("demo", "missing the side: frontend or backend");
  return tool_usage_error("demo", "unknown side '%s' (frontend or backend)",
                          argv[1]);
}
