/* shmap send — the peer side: create memory, fill a pattern, send regions
 * on a main socket (front end) or SHMEM_MAP requests on a back-end request
 * socket (back end), and report every request as a JSON line.
 *
 * The front end maps its guest RAM in a guest window of its own and sends
 * each region's address there as userspace_addr (shmap_region.host). With
 * --negotiate it first runs the vhost-user handshake
 * (shmap_frontend_negotiate(); with --no-reply-ack by hand, leaving
 * REPLY_ACK out). */
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define MAX_ITEMS 8

struct item {
  uint64_t a, b, size; /* region: gpa, -, size; shmem: shmid, offset, size */
  uint32_t seed;
  int readonly;
  uint8_t head[16]; /* the first bytes written, for the peer to compare */
  shmap_mappable *m;
};

struct send_opts {
  const char *connect;
  unsigned role;
  int table, remove, unmap;
  int negotiate, no_reply_ack, slots, config, vring;
  uint64_t vring_gpa, hold_ms;
  uint64_t wait_ms; /* --wait: retry the connection that long */
  int n;
  struct item items[MAX_ITEMS];
};

/* GPA:SIZE[:SEED] or ID:OFFSET:SIZE[:SEED][:ro] */
static int parse_item(const char *v, int fields, struct item *it) {
  uint64_t vals[5] = {0};
  int n = 0;
  const char *p = v;
  while (n < 5 && *p) {
    if (strncmp(p, "ro", 2) == 0 && (p[2] == '\0')) {
      it->readonly = 1;
      break;
    }
    if (tool_parse_size(p, &vals[n]) != 0)
      return -1;
    n++;
    const char *c = strchr(p, ':');
    if (c == NULL)
      break;
    p = c + 1;
  }
  if (n < fields)
    return -1;
  it->a = vals[0];
  it->b = fields == 3 ? vals[1] : 0;
  it->size = vals[fields - 1];
  it->seed = n > fields ? (uint32_t)vals[fields] : 0;
  return 0;
}

static const char help[] =
    "usage: shmap send --connect ADDR --role frontend [--region "
    "GPA:SIZE[:SEED] "
    "...]\n"
    "                  [--table] [--remove] [--negotiate] [--no-reply-ack]\n"
    "                  [--config] [--vring GPA] [--slots] [--hold SECONDS]\n"
    "                  [--wait SECONDS]\n"
    "       shmap send --connect ADDR --role backend\n"
    "                  --shmem ID:OFFSET:SIZE[:SEED][:ro] ... [--unmap]\n"
    "                  [--hold SECONDS] [--wait SECONDS]\n"
    "\n"
    "Connect to a peer at ADDR (a Unix socket path; on Windows a named pipe),\n"
    "create memory, fill it with a pattern seeded by SEED, share it and "
    "print\n"
    "one JSON line per request: {\"request\":NAME,\"result\":RC,...} with "
    "the\n"
    "request's vhost-user fields and \"head\", the first 16 bytes written. "
    "Exit 1\n"
    "when a request failed.\n"
    "\n"
    "Options:\n"
    "  --connect ADDR     the peer's address (required)\n"
    "  --role ROLE        required: frontend sends guest memory regions on "
    "the\n"
    "                     main socket; backend sends SHMEM_MAP requests on a\n"
    "                     back-end request socket\n"
    "  --hold SECONDS     after sharing, print {\"event\":\"added\"} and "
    "wait that\n"
    "                     long before removing (0 to 3600, fractions "
    "allowed)\n"
    "  --wait SECONDS     retry the connection until the peer listens, at "
    "most\n"
    "                     that long (0 to 3600; default 0: one attempt)\n"
    "Front end only:\n"
    "  --region GPA:SIZE[:SEED]  a region of guest RAM at guest address GPA "
    "(up\n"
    "                     to 8; SEED default: the region's number, from 1); "
    "sent\n"
    "                     as ADD_MEM_REG\n"
    "  --table            send the regions as one SET_MEM_TABLE instead\n"
    "  --remove           then remove them (REM_MEM_REG)\n"
    "  --negotiate        run the vhost-user handshake first\n"
    "  --no-reply-ack     the handshake without REPLY_ACK (implies "
    "--negotiate)\n"
    "  --config           GET_CONFIG of a virtio-blk device (asks for the "
    "CONFIG\n"
    "                     protocol feature)\n"
    "  --vring GPA        SET_VRING_ADDR of ring 0, the ring at guest address "
    "GPA\n"
    "  --slots            GET_MAX_MEM_SLOTS\n"
    "Back end only:\n"
    "  --shmem ID:OFFSET:SIZE[:SEED][:ro]  map a buffer of SIZE bytes at "
    "OFFSET\n"
    "                     of the front end's shared-memory window ID (up to "
    "8;\n"
    "                     ro: read-only)\n"
    "  --unmap            then unmap them (SHMEM_UNMAP)\n"
    "  -h, --help         this help\n"
    "\n"
    "GPA, SIZE, OFFSET: a number, decimal or 0x hex, optionally followed by "
    "K,\n"
    "M or G, binary (1K = 1024). A fatal error is the line\n"
    "{\"event\":\"error\",\"error\":\"SHMAP_E...\",\"message\":"
    "\"...\"} (exit 1); a usage\n"
    "error is explained on stderr (exit 2).\n";

enum {
  O_CONNECT = 256,
  O_ROLE,
  O_HOLD,
  O_WAIT,
  O_REGION,
  O_SHMEM,
  O_VRING,
  O_TABLE,
  O_REMOVE,
  O_UNMAP,
  O_NEGOTIATE,
  O_NO_REPLY_ACK,
  O_SLOTS,
  O_CONFIG,
};

static int parse(int argc, char **argv, struct send_opts *o) {
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},
      {"connect", required_argument, NULL, O_CONNECT},
      {"role", required_argument, NULL, O_ROLE},
      {"hold", required_argument, NULL, O_HOLD},
      {"wait", required_argument, NULL, O_WAIT},
      {"region", required_argument, NULL, O_REGION},
      {"shmem", required_argument, NULL, O_SHMEM},
      {"vring", required_argument, NULL, O_VRING},
      {"table", no_argument, NULL, O_TABLE},
      {"remove", no_argument, NULL, O_REMOVE},
      {"unmap", no_argument, NULL, O_UNMAP},
      {"negotiate", no_argument, NULL, O_NEGOTIATE},
      {"no-reply-ack", no_argument, NULL, O_NO_REPLY_ACK},
      {"slots", no_argument, NULL, O_SLOTS},
      {"config", no_argument, NULL, O_CONFIG},
      {NULL, 0, NULL, 0}};
  static const char cmd[] = "send";
  /* The last option given that belongs to one role only. */
  const char *frontend_only = NULL, *backend_only = NULL;
  int nregion = 0, nshmem = 0;
  memset(o, 0, sizeof *o);
  opterr = 0;
  int c, e = 0;
  while (e == 0 && (c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
    const char *v = optarg;
    switch (c) {
    case 'h': fputs(help, stdout); return 1;
    case O_CONNECT: o->connect = v; break;
    case O_ROLE: e = tool_opt_role(cmd, v, &o->role); break;
    case O_HOLD:
      e = tool_opt_seconds(cmd, "--hold", v, 0, 3600, &o->hold_ms);
      break;
    case O_WAIT:
      e = tool_opt_seconds(cmd, "--wait", v, 0, 3600, &o->wait_ms);
      break;
    case O_VRING:
      e = tool_opt_size(cmd, "--vring", v, &o->vring_gpa);
      o->vring = 1;
      frontend_only = "--vring";
      break;
    case O_REGION:
    case O_SHMEM: {
      const char *name = c == O_REGION ? "--region" : "--shmem";
      struct item *it = &o->items[o->n];
      if (c == O_REGION) {
        frontend_only = name;
        nregion++;
      } else {
        backend_only = name;
        nshmem++;
      }
      if (o->n == MAX_ITEMS) {
        e = tool_usage_error(cmd, "%s: at most %d", name, MAX_ITEMS);
      } else if (parse_item(v, c == O_REGION ? 2 : 3, it) != 0 ||
                 it->size == 0 || (c == O_REGION && it->readonly)) {
        e = tool_usage_error(
            cmd, "%s: bad value '%s' (%s; numbers with K, M or G binary)", name,
            v,
            c == O_REGION ? "GPA:SIZE[:SEED], SIZE not 0"
                          : "ID:OFFSET:SIZE[:SEED][:ro], SIZE not 0");
      } else if (c == O_SHMEM && it->a > 255) {
        e = tool_usage_error(cmd, "--shmem: bad window ID in '%s' (0 to 255)",
                             v);
      } else {
        if (it->seed == 0)
          it->seed = (uint32_t)o->n + 1;
        o->n++;
      }
      break;
    }
    case O_TABLE: o->table = 1, frontend_only = "--table"; break;
    case O_REMOVE: o->remove = 1, frontend_only = "--remove"; break;
    case O_UNMAP: o->unmap = 1, backend_only = "--unmap"; break;
    case O_NEGOTIATE: o->negotiate = 1, frontend_only = "--negotiate"; break;
    case O_NO_REPLY_ACK:
      o->no_reply_ack = 1, frontend_only = "--no-reply-ack";
      break;
    case O_SLOTS: o->slots = 1, frontend_only = "--slots"; break;
    case O_CONFIG: o->config = 1, frontend_only = "--config"; break;
    default: return tool_bad_option(cmd, c, argv);
    }
  }
  if (e != 0)
    return e;
  if ((e = tool_check_common(cmd, argc, argv, o->connect, "--connect", o->role,
                             frontend_only, backend_only)) != 0)
    return e;
  o->negotiate |= o->no_reply_ack;
  if (o->role == SHMAP_ROLE_BACKEND && nshmem == 0)
    return tool_usage_error(cmd, "missing --shmem ID:OFFSET:SIZE");
  /* A front end with nothing to do, or removing nothing. */
  if (o->role == SHMAP_ROLE_FRONTEND && nregion == 0 &&
      (!(o->negotiate || o->slots || o->config || o->vring) || o->table ||
       o->remove))
    return tool_usage_error(cmd, "missing --region GPA:SIZE");
  return 0;
}

static void fill_pattern(uint8_t *p, struct item *it) {
  for (uint64_t i = 0; i < it->size; i++)
    p[i] = (uint8_t)((i * 0x9E3779B97F4A7C15ull + 1) >> 56 ^ it->seed);
  memcpy(it->head, p, sizeof it->head);
}

/* Make the item's memory, map it at `off` of `w` and fill its pattern. */
static int fill(struct item *it, shmap_window *w, uint64_t off) {
  int rc = shmap_mappable_create(it->size, 0, &it->m);
  if (rc == 0)
    rc = shmap_window_map(w, off, it->m, 0, it->size, SHMAP_PROT_RW);
  if (rc == 0)
    fill_pattern(shmap_window_translate(w, off, it->size), it);
  return rc;
}

/* The front end's guest window: every region at its guest address. */
static int make_guest(struct send_opts *o, shmap_window **guest) {
  uint64_t end = 1, g = shmap_map_granularity();
  for (int i = 0; i < o->n; i++)
    if (o->items[i].a + o->items[i].size > end)
      end = o->items[i].a + o->items[i].size;
  int rc = shmap_window_reserve((end + g - 1) / g * g, 0, guest);
  for (int i = 0; rc == 0 && i < o->n; i++)
    rc = fill(&o->items[i], *guest, o->items[i].a);
  return rc;
}

/* A back end's buffers: each in a window of its own, released after the
 * fill (the mappable keeps the memory). */
static int make_buffers(struct send_opts *o) {
  int rc = 0;
  for (int i = 0; rc == 0 && i < o->n; i++) {
    struct item *it = &o->items[i];
    shmap_window *w = NULL;
    uint64_t g = shmap_map_granularity();
    rc = shmap_window_reserve((it->size + g - 1) / g * g, 0, &w);
    if (rc == 0)
      rc = fill(it, w, 0);
    shmap_window_release(w);
  }
  return rc;
}

/* A request's line: its vhost-user fields, and for a new mapping the seed
 * and the first bytes written. `role` says which fields an item has. */
static int report(const char *request, int rc, const struct item *it,
                  unsigned role, int with_head) {
  tool_result_begin(request, rc);
  if (it != NULL && role == SHMAP_ROLE_FRONTEND)
    printf(",\"guest_phys_addr\":%" PRIu64 ",\"memory_size\":%" PRIu64, it->a,
           it->size);
  else if (it != NULL)
    printf(",\"shmid\":%" PRIu64 ",\"shm_offset\":%" PRIu64 ",\"len\":%" PRIu64,
           it->a, it->b, it->size);
  if (it != NULL && with_head) {
    printf(",\"seed\":%" PRIu32 ",\"head\":\"", it->seed);
    tool_print_hex(stdout, it->head, sizeof it->head);
    putchar('"');
  }
  return tool_result_end(rc);
}

/* Connect, retrying for --wait while nobody listens at the address yet. */
static int connect_peer(const struct send_opts *o, shmap_channel **ch) {
  uint64_t start = shmap_time_ns();
  unsigned flags =
      o->role == SHMAP_ROLE_BACKEND ? SHMAP_CHANNEL_BACKEND_REQ : 0u;
  for (;;) {
    int rc = shmap_channel_connect(o->connect, o->role, flags, ch);
    if (rc != SHMAP_ENOENT && rc != SHMAP_ECONNREFUSED)
      return rc;
    uint64_t waited_ms = (shmap_time_ns() - start) / 1000000u;
    if (waited_ms >= o->wait_ms)
      return rc;
    uint64_t left = o->wait_ms - waited_ms;
    tool_sleep_ms(left < 50 ? left : 50);
  }
}

/* The front end's requests, in order; returns the number that failed. */
static int frontend(shmap_channel *ch, struct send_opts *o,
                    shmap_window *guest) {
  int failures = 0;
  if (o->negotiate)
    failures += tool_vhost_negotiate(ch, !o->no_reply_ack,
                                     o->config ? SHMAP_PROTOCOL_F_CONFIG : 0);
  shmap_region regs[MAX_ITEMS];
  for (int i = 0; i < o->n; i++)
    regs[i] = (shmap_region){
        .guest_address = o->items[i].a,
        .size = o->items[i].size,
        .mappable = o->items[i].m,
        .file_offset = 0,
        .host = shmap_window_translate(guest, o->items[i].a, o->items[i].size)};
  if (o->table && o->n > 0)
    failures += report("SET_MEM_TABLE",
                       shmap_frontend_set_mem_table(ch, regs, (size_t)o->n),
                       NULL, 0, 0);
  else
    for (int i = 0; i < o->n; i++)
      failures += report("ADD_MEM_REG", shmap_frontend_add_region(ch, &regs[i]),
                         &o->items[i], SHMAP_ROLE_FRONTEND, 1);
  if (o->config)
    failures += tool_vhost_get_config(ch);
  if (o->vring) {
    /* A split ring laid out as a driver would: desc, avail, used. */
    uint8_t *base = shmap_window_translate(guest, o->vring_gpa, 0x2000);
    uint64_t desc = base != NULL ? (uint64_t)(uintptr_t)base : o->vring_gpa;
    failures += tool_vhost_vring_addr(ch, desc, desc + 0x1000, desc + 0x800);
  }
  if (o->hold_ms > 0) {
    printf("{\"event\":\"added\"}\n");
    fflush(stdout);
    tool_sleep_ms(o->hold_ms);
  }
  for (int i = 0; o->remove && i < o->n; i++)
    failures +=
        report("REM_MEM_REG", shmap_frontend_remove_region(ch, &regs[i]),
               &o->items[i], SHMAP_ROLE_FRONTEND, 0);
  if (o->slots) {
    uint64_t slots = 0;
    int rc = shmap_frontend_get_max_mem_slots(ch, &slots);
    tool_result_begin("GET_MAX_MEM_SLOTS", rc);
    if (rc == 0)
      printf(",\"slots\":%" PRIu64, slots);
    failures += tool_result_end(rc);
  }
  return failures;
}

int tool_send(int argc, char **argv) {
  struct send_opts o;
  int prc = parse(argc, argv, &o);
  if (prc != 0)
    return prc == 1 ? 0 : prc; /* 1: --help */
  shmap_window *guest = NULL;
  int rc =
      o.role == SHMAP_ROLE_FRONTEND ? make_guest(&o, &guest) : make_buffers(&o);
  if (rc != 0)
    tool_fatal(rc, "send", NULL);
  shmap_channel *ch = NULL;
  /* A front end talks on the main socket; a back end sends its requests
   * on a back-end request socket (here one that `serve` listens for). */
  if (rc == 0) {
    rc = connect_peer(&o, &ch);
    if (rc != 0)
      tool_fatal(rc, "send", NULL);
  }
  if (rc != 0) {
    shmap_window_release(guest);
    for (int i = 0; i < o.n; i++)
      shmap_mappable_unref(o.items[i].m);
    return 1;
  }
  int failures = 0;
  if (o.role == SHMAP_ROLE_FRONTEND) {
    failures = frontend(ch, &o, guest);
  } else {
    for (int i = 0; i < o.n; i++) {
      struct item *it = &o.items[i];
      failures += report("SHMEM_MAP",
                         shmap_backend_shmem_map(
                             ch, (uint8_t)it->a, it->m, 0, it->b, it->size,
                             it->readonly ? SHMAP_PROT_READ : SHMAP_PROT_RW),
                         it, SHMAP_ROLE_BACKEND, 1);
    }
    if (o.hold_ms > 0) {
      printf("{\"event\":\"added\"}\n");
      fflush(stdout);
      tool_sleep_ms(o.hold_ms);
    }
    for (int i = 0; o.unmap && i < o.n; i++)
      failures +=
          report("SHMEM_UNMAP",
                 shmap_backend_shmem_unmap(ch, (uint8_t)o.items[i].a,
                                           o.items[i].b, o.items[i].size),
                 &o.items[i], SHMAP_ROLE_BACKEND, 0);
  }
  shmap_channel_close(ch);
  shmap_window_release(guest);
  for (int i = 0; i < o.n; i++)
    shmap_mappable_unref(o.items[i].m);
  return failures ? 1 : 0;
}
