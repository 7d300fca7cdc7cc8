/* shmap serve — accept one peer and apply its messages, one JSON line each.
 *
 * As the back end it listens for a front end's main socket and answers the
 * vhost-user handshake (with --device blk, as the vhost-user-blk device of
 * examples/vhost-user-blk, which takes every other request too and, with
 * --image, serves that file's blocks: device_blk.c). As the front end it
 * listens for a back end's back-end request socket (SHMEM_MAP & co.).
 * --peek GPA:LEN prints guest bytes once a region covers them. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define MAX_SHM 16

struct serve_opts {
  const char *listen;
  unsigned role;
  uint64_t guest_size;
  uint64_t max_bytes;
  int nshm;
  uint8_t shmid[MAX_SHM];
  uint64_t shm_size[MAX_SHM];
  int blk;
  uint64_t capacity;
  const char *image; /* --image: the device serves this file (POSIX) */
  int readonly;
  int peek;
  uint64_t peek_gpa, peek_len;
  int allow_unsealed;
  int timeout_ms; /* --timeout: drop a peer stalled that long (0: never) */
};

/* The most bytes --peek prints. */
#define PEEK_MAX 4096

static const char help[] =
    "usage: shmap serve --listen ADDR --role backend [--guest-size SIZE]\n"
    "                   [--max-bytes SIZE] [--peek GPA:LEN]\n"
    "                   [--device blk [--capacity SECTORS | --image FILE "
    "[--readonly]]]\n"
    "                   [--allow-unsealed] [--timeout SECONDS]\n"
    "       shmap serve --listen ADDR --role frontend [--shm ID:SIZE ...]\n"
    "                   [--allow-unsealed] [--timeout SECONDS]\n"
    "\n"
    "Listen at ADDR (a Unix socket path; on Windows a named pipe,\n"
    "\\\\.\\pipe\\NAME), accept one peer, apply its messages and print "
    "one JSON\n"
    "line for each, then {\"event\":\"closed\",...} when it hangs up "
    "(exit 0)\n"
    "or breaks the protocol (exit 1).\n"
    "\n"
    "Options:\n"
    "  --listen ADDR        the address to listen at (required)\n"
    "  --role ROLE          required: backend takes a front end's main "
    "socket\n"
    "                       and answers the vhost-user handshake; frontend "
    "takes\n"
    "                       a back end's back-end request socket (SHMEM_MAP)\n"
    "  --allow-unsealed     accept memory the peer could shrink (default: "
    "refuse\n"
    "                       it where the system can seal)\n"
    "  --timeout SECONDS    end the session when the peer stalls a message "
    "that\n"
    "                       long; fractions allowed (default: never; 5 with\n"
    "                       --image)\n"
    "Back end only:\n"
    "  --guest-size SIZE    guest address space to reserve (default 64G)\n"
    "  --max-bytes SIZE     the most guest memory to map (default: no "
    "limit)\n"
    "  --peek GPA:LEN       print LEN bytes (1 to 4096) at guest address GPA "
    "once\n"
    "                       they are mapped: {\"event\":\"peek\",...}\n"
    "  --device blk         be a minimal vhost-user-blk device\n"
    "  --capacity SECTORS   the device's capacity in 512-byte sectors "
    "(default\n"
    "                       131072, 64 MiB; --device blk only)\n"
    "  --image FILE         serve FILE's blocks (--device blk only; POSIX)\n"
    "  --readonly           serve the image read-only (--image only)\n"
    "Front end only:\n"
    "  --shm ID:SIZE        a shared-memory window ID (0 to 255) of SIZE "
    "bytes\n"
    "                       for the back end's SHMEM_MAP (up to 16)\n"
    "  -h, --help           this help\n"
    "\n"
    "SIZE, LEN, GPA: a number, decimal or 0x hex, optionally followed by K, "
    "M\n"
    "or G, binary (1K = 1024). A fatal error is the line\n"
    "{\"event\":\"error\",\"error\":\"SHMAP_E...\",\"message\":"
    "\"...\"} (exit 1); a usage\n"
    "error is explained on stderr (exit 2).\n";

enum {
  O_LISTEN = 256,
  O_ROLE,
  O_GUEST_SIZE,
  O_MAX_BYTES,
  O_DEVICE,
  O_CAPACITY,
  O_IMAGE,
  O_READONLY,
  O_PEEK,
  O_ALLOW_UNSEALED,
  O_TIMEOUT,
  O_SHM,
};

static int parse(int argc, char **argv, struct serve_opts *o) {
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},
      {"listen", required_argument, NULL, O_LISTEN},
      {"role", required_argument, NULL, O_ROLE},
      {"guest-size", required_argument, NULL, O_GUEST_SIZE},
      {"max-bytes", required_argument, NULL, O_MAX_BYTES},
      {"device", required_argument, NULL, O_DEVICE},
      {"capacity", required_argument, NULL, O_CAPACITY},
      {"image", required_argument, NULL, O_IMAGE},
      {"readonly", no_argument, NULL, O_READONLY},
      {"peek", required_argument, NULL, O_PEEK},
      {"allow-unsealed", no_argument, NULL, O_ALLOW_UNSEALED},
      {"timeout", required_argument, NULL, O_TIMEOUT},
      {"shm", required_argument, NULL, O_SHM},
      {NULL, 0, NULL, 0}};
  static const char cmd[] = "serve";
  /* Options given that belong to one role only. */
  const char *backend_only = NULL, *frontend_only = NULL;
  int capacity_given = 0, guest_given = 0, max_given = 0;
  memset(o, 0, sizeof *o);
  o->guest_size = 1ull << 36; /* 64 GiB of address space: costs nothing */
  o->capacity = 131072;       /* 64 MiB in 512-byte sectors */
  opterr = 0;
  int c, e = 0;
  while (e == 0 && (c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
    const char *v = optarg;
    switch (c) {
    case 'h': fputs(help, stdout); return 1;
    case O_LISTEN: o->listen = v; break;
    case O_ROLE: e = tool_opt_role(cmd, v, &o->role); break;
    case O_GUEST_SIZE:
      e = tool_opt_size(cmd, "--guest-size", v, &o->guest_size);
      if (e == 0 && o->guest_size == 0)
        e = tool_usage_error(cmd, "--guest-size: must not be 0");
      guest_given = 1;
      break;
    case O_MAX_BYTES:
      e = tool_opt_size(cmd, "--max-bytes", v, &o->max_bytes);
      max_given = 1;
      break;
    case O_DEVICE:
      if (strcmp(v, "blk") != 0)
        e = tool_usage_error(cmd, "--device: unknown device '%s' (blk)", v);
      o->blk = 1;
      break;
    case O_CAPACITY:
      e = tool_opt_size(cmd, "--capacity", v, &o->capacity);
      capacity_given = 1;
      break;
    case O_IMAGE: o->image = v; break;
    case O_READONLY: o->readonly = 1; break;
    case O_PEEK: {
      const char *colon = strchr(v, ':');
      if (colon == NULL || tool_parse_size(v, &o->peek_gpa) != 0 ||
          tool_parse_size(colon + 1, &o->peek_len) != 0 ||
          strchr(colon + 1, ':') != NULL || o->peek_len == 0 ||
          o->peek_len > PEEK_MAX)
        e = tool_usage_error(
            cmd, "--peek: bad value '%s' (GPA:LEN, LEN 1 to %d)", v, PEEK_MAX);
      o->peek = 1;
      break;
    }
    case O_ALLOW_UNSEALED: o->allow_unsealed = 1; break;
    case O_TIMEOUT: {
      uint64_t ms = 0;
      e = tool_opt_seconds(cmd, "--timeout", v, 0.001, 2000000.0, &ms);
      o->timeout_ms = (int)ms;
      break;
    }
    case O_SHM: {
      char *colon = strchr(v, ':'), *end;
      unsigned long id = strtoul(v, &end, 0);
      if (o->nshm == MAX_SHM)
        e = tool_usage_error(cmd, "--shm: at most %d windows", MAX_SHM);
      else if (colon == NULL || end != colon || id > 255 ||
               tool_parse_size(colon + 1, &o->shm_size[o->nshm]) != 0 ||
               strchr(colon + 1, ':') != NULL || o->shm_size[o->nshm] == 0)
        e = tool_usage_error(cmd,
                             "--shm: bad value '%s' (ID:SIZE, ID 0 to 255, "
                             "SIZE with K, M or G binary)",
                             v);
      else
        o->shmid[o->nshm++] = (uint8_t)id;
      frontend_only = "--shm";
      break;
    }
    default: return tool_bad_option(cmd, c, argv);
    }
  }
  if (e != 0)
    return e;
  backend_only = o->blk           ? "--device"
                 : o->peek        ? "--peek"
                 : guest_given    ? "--guest-size"
                 : max_given      ? "--max-bytes"
                 : o->image       ? "--image"
                 : o->readonly    ? "--readonly"
                 : capacity_given ? "--capacity"
                                  : NULL;
  if ((e = tool_check_common(cmd, argc, argv, o->listen, "--listen", o->role,
                             frontend_only, backend_only)) != 0)
    return e;
  /* An image and a capacity are the device's; read-only is the image's. */
  if (!o->blk && (o->image != NULL || capacity_given))
    return tool_usage_error(cmd, "%s needs --device blk",
                            o->image != NULL ? "--image" : "--capacity");
  if (o->image != NULL && capacity_given)
    return tool_usage_error(cmd, "--capacity and --image exclude each other "
                                 "(the image's size is the capacity)");
  if (o->readonly && o->image == NULL)
    return tool_usage_error(cmd, "--readonly needs --image");
  return 0;
}

/* Where a peer's memory is: the window holding host address `p`, and its
 * offset there (NULL when none does). */
static shmap_window *window_of(shmap_window *const *ws, int n, const void *p,
                               uint64_t *off) {
  for (int i = 0; i < n; i++) {
    uintptr_t base = (uintptr_t)shmap_window_base(ws[i]);
    if (ws[i] != NULL && (uintptr_t)p >= base &&
        (uintptr_t)p - base < shmap_window_size(ws[i])) {
      *off = (uint64_t)((uintptr_t)p - base);
      return ws[i];
    }
  }
  return NULL;
}

/* The peer's memory is read through the fault-safe copy, never directly:
 * a peer allowed to send memory it can shrink (--allow-unsealed) could
 * truncate it between the map and this read, and a direct read would end
 * the process with SIGBUS. */
static void print_event(const shmap_event *ev, size_t live,
                        shmap_window *const *ws, int nws) {
  tool_line_begin(shmap_wire_request_name_in(ev->direction, ev->request),
                  ev->request, ev->result, NULL);
  if (ev->flags & SHMAP_WIRE_REPLY)
    printf(",\"reply\":true");
  /* Decoded fields only for a message shmap decoded (codes collide across
   * the two spaces: front-end 9 is SET_VRING_ADDR, back-end 9 SHMEM_MAP). */
  if (!ev->foreign && shmap_wire_direction(ev->request) == ev->direction)
    tool_print_msg_fields(stdout, &ev->msg);
  uint64_t off;
  shmap_window *w =
      ev->head != NULL ? window_of(ws, nws, ev->head, &off) : NULL;
  uint8_t head[16];
  int rc = w != NULL ? shmap_window_read(w, off, head, sizeof head, NULL) : 0;
  if (w != NULL && rc == 0) {
    printf(",\"head\":\"");
    tool_print_hex(stdout, head, sizeof head);
    putchar('"');
  } else if (w != NULL) {
    printf(",\"head_error\":\"%s\"", shmap_err_name(rc));
  }
  tool_line_end(ev->foreign, live);
}

/* --peek: once the guest bytes are mapped, print them (once). */
static void peek(struct serve_opts *o, shmap_window *guest) {
  uint8_t p[PEEK_MAX];
  /* Fault-safe, as the head read: not mapped yet is the common failure. */
  if (shmap_window_read(guest, o->peek_gpa, p, (size_t)o->peek_len, NULL) != 0)
    return;
  printf("{\"event\":\"peek\",\"guest_phys_addr\":%" PRIu64 ",\"len\":%" PRIu64
         ",\"hex\":\"",
         o->peek_gpa, o->peek_len);
  tool_print_hex(stdout, p, (size_t)o->peek_len);
  printf("\"}\n");
  fflush(stdout);
  o->peek = 0;
}

/* One message: with an image the device's loop waits, running the rings
 * on their kicks meanwhile; otherwise the library's blocking serve. */
static int serve_one(shmap_backend *be, shmap_frontend *fe, vub_dev *d,
                     shmap_channel *ch, shmap_event *ev) {
#if TOOL_BLK_IO
  if (d->fd >= 0)
    return vub_serve_one(d, ch, ev);
#else
  (void)d;
#endif
  return be != NULL ? shmap_backend_serve_one(be, ch, ev)
                    : shmap_frontend_serve_one(fe, ch, ev);
}

/* --image: open the file the device serves (POSIX only). */
static int open_image(const struct serve_opts *o, vub_dev *d) {
#if TOOL_BLK_IO
  if (vub_open_image(d, o->image, o->readonly) != 0) {
    char what[512];
    snprintf(what, sizeof what, "--image %s", o->image);
    return tool_fatal(0, what, strerror(errno));
  }
  d->on_report = tool_blk_report;
  return 0;
#else
  (void)d;
  return tool_usage_error("serve",
                          "--image %s: this build serves no image (the "
                          "device's I/O is POSIX only)",
                          o->image);
#endif
}

int tool_serve(int argc, char **argv) {
  struct serve_opts o;
  int prc = parse(argc, argv, &o);
  if (prc != 0)
    return prc == 1 ? 0 : prc; /* 1: --help */
  vub_dev blk;
  vub_init(&blk, NULL, o.capacity);
  int code = o.image != NULL ? open_image(&o, &blk) : 0;
  if (code != 0)
    return code;
  shmap_window *guest = NULL, *shm[MAX_SHM] = {0};
  shmap_backend *be = NULL;
  shmap_frontend *fe = NULL;
  shmap_listener *l = NULL;
  shmap_channel *ch = NULL;
  unsigned flags = SHMAP_CHANNEL_SAME_USER;
  int rc = 0;
  code = 1;
  if (o.role == SHMAP_ROLE_BACKEND) {
    rc = shmap_window_reserve(o.guest_size, 0, &guest);
    shmap_backend_options bo = {
        .size = sizeof bo,
        .max_bytes = o.max_bytes,
        .seal_policy = o.allow_unsealed ? SHMAP_SEALS_OPTIONAL : 0};
    if (rc == 0)
      rc = shmap_backend_create(guest, &bo, &be);
    /* A front end that negotiates finds a back end that answers; the
     * back-end request socket it hands over is adopted. */
    shmap_backend_answer_handshake(be, o.blk ? vub_features(&blk) : 0,
                                   o.blk ? VUB_PROTOCOL
                                         : SHMAP_PROTOCOL_SHMAP_DEFAULT);
    if (o.blk) {
      blk.be = be;
      shmap_backend_on_foreign(be, tool_blk_foreign, &blk);
    }
  } else {
    /* A back end connects its back-end request socket to us. */
    flags |= SHMAP_CHANNEL_BACKEND_REQ;
    shmap_frontend_options fo = {
        .size = sizeof fo,
        .seal_policy = o.allow_unsealed ? SHMAP_SEALS_OPTIONAL : 0};
    rc = shmap_frontend_create(&fo, &fe);
    for (int i = 0; rc == 0 && i < o.nshm; i++) {
      rc = shmap_window_reserve(o.shm_size[i], 0, &shm[i]);
      if (rc == 0)
        rc = shmap_frontend_add_window(fe, o.shmid[i], shm[i]);
    }
  }
  if (rc == 0)
    rc = shmap_listener_open(o.listen, &l);
  if (rc == 0) {
    printf("{\"event\":\"listening\",\"address\":");
    tool_print_json_string(stdout, o.listen);
    printf(",\"role\":\"%s\"}\n",
           o.role == SHMAP_ROLE_BACKEND ? "backend" : "frontend");
    fflush(stdout);
    rc = shmap_listener_accept(l, o.role, flags, &ch);
    /* A peer of another user is refused (SO_PEERCRED); the next one may be
     * the right one, so go on accepting. */
    while (rc == SHMAP_EPERM) {
      printf("{\"event\":\"refused\",\"message\":");
      tool_print_json_string(stdout, shmap_last_message());
      printf("}\n");
      fflush(stdout);
      rc = shmap_listener_accept(l, o.role, flags, &ch);
    }
  }
  /* A peer that leaves a message unfinished, or does not read its
   * replies, that long ends the session (reason SHMAP_ETIMEDOUT). */
  if (o.image != NULL && o.timeout_ms == 0)
    o.timeout_ms = 5000; /* the device's loop bounds every wait */
  if (rc == 0 && o.timeout_ms > 0)
    rc = shmap_channel_set_timeout(ch, o.timeout_ms);
  if (rc != 0) {
    tool_fatal(rc, "serve", NULL);
    goto out;
  }
  for (;;) {
    shmap_event ev;
    rc = serve_one(be, fe, &blk, ch, &ev);
    if (rc != 0)
      break;
    size_t live = 0;
    if (be != NULL)
      live = shmap_backend_count(be);
    for (int i = 0; i < o.nshm; i++)
      live += shmap_window_count(shm[i]);
    if (!(ev.foreign && o.blk)) /* the device printed its own */
      be != NULL ? print_event(&ev, live, &guest, 1)
                 : print_event(&ev, live, shm, o.nshm);
    if (o.peek)
      peek(&o, guest);
  }
  size_t live = be != NULL ? shmap_backend_count(be) : 0;
  for (int i = 0; i < o.nshm; i++)
    live += shmap_window_count(shm[i]);
  /* A clean disconnect between messages ends the session normally; a
   * framing error is reported and fails the run. */
  code = rc == SHMAP_ECLOSED ? 0 : 1;
  if (o.image != NULL)
    tool_blk_summary(&blk);
  printf("{\"event\":\"closed\",\"reason\":\"%s\",\"live\":%zu",
         shmap_err_name(rc), live);
  if (code) {
    printf(",\"message\":");
    tool_print_json_string(stdout, shmap_last_message());
  }
  printf("}\n");
  fflush(stdout);
out:
  vub_cleanup(&blk);
#if TOOL_BLK_IO
  vub_close_image(&blk);
#endif
  shmap_channel_close(ch);
  shmap_listener_close(l);
  shmap_backend_destroy(be);
  shmap_frontend_destroy(fe);
  shmap_window_release(guest);
  for (int i = 0; i < o.nshm; i++)
    shmap_window_release(shm[i]);
  return code;
}
