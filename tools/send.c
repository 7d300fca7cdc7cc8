/* shmap send — the peer side: create memory, fill a pattern, send regions
 * on a main socket (front end) or SHMEM_MAP requests on a back-end request
 * socket (back end), and report every request as a JSON line.
 *
 * The front end maps its guest RAM in a guest window of its own and sends
 * each region's address there as userspace_addr (shmap_region.host). With
 * --negotiate it first runs the vhost-user handshake
 * (shmap_frontend_negotiate(); with --no-reply-ack by hand, leaving
 * REPLY_ACK out). */
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
  uint64_t vring_gpa, hold;
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

/* Flags without a value; 1 when `a` was one. */
static int parse_flag(const char *a, struct send_opts *o) {
  static const struct {
    const char *name;
    size_t off;
  } flags[] = {
      {"--table", offsetof(struct send_opts, table)},
      {"--remove", offsetof(struct send_opts, remove)},
      {"--unmap", offsetof(struct send_opts, remove)},
      {"--negotiate", offsetof(struct send_opts, negotiate)},
      {"--no-reply-ack", offsetof(struct send_opts, no_reply_ack)},
      {"--slots", offsetof(struct send_opts, slots)},
      {"--config", offsetof(struct send_opts, config)},
  };
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (strcmp(a, flags[i].name) == 0) {
      *(int *)(void *)((char *)o + flags[i].off) = 1;
      return 1;
    }
  return 0;
}

static int parse(int argc, char **argv, struct send_opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (parse_flag(a, o))
      continue;
    if (v == NULL)
      return -1;
    i++;
    if (strcmp(a, "--connect") == 0) {
      o->connect = v;
    } else if (strcmp(a, "--role") == 0) {
      o->role = strcmp(v, "backend") == 0    ? SHMAP_ROLE_BACKEND
                : strcmp(v, "frontend") == 0 ? SHMAP_ROLE_FRONTEND
                                             : 0;
    } else if (strcmp(a, "--hold") == 0) {
      if (tool_parse_size(v, &o->hold) != 0 || o->hold > 3600)
        return -1;
    } else if (strcmp(a, "--vring") == 0) {
      if (tool_parse_size(v, &o->vring_gpa) != 0)
        return -1;
      o->vring = 1;
    } else if ((strcmp(a, "--region") == 0 || strcmp(a, "--shmem") == 0) &&
               o->n < MAX_ITEMS) {
      struct item *it = &o->items[o->n];
      if (parse_item(v, a[2] == 'r' ? 2 : 3, it) != 0)
        return -1;
      if (it->seed == 0)
        it->seed = (uint32_t)o->n + 1;
      o->n++;
    } else {
      return -1;
    }
  }
  o->unmap = o->remove;
  o->negotiate |= o->no_reply_ack;
  /* The handshake and the device requests are the front end's. */
  if (o->role == SHMAP_ROLE_BACKEND &&
      (o->negotiate || o->slots || o->config || o->vring))
    return -1;
  return o->connect != NULL && o->role != 0 &&
                 (o->n > 0 || o->role == SHMAP_ROLE_FRONTEND)
             ? 0
             : -1;
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

static int report(const char *request, int rc, const struct item *it) {
  tool_result_begin(request, rc);
  if (it != NULL) {
    printf(",\"size\":%" PRIu64 ",\"seed\":%" PRIu32 ",\"head\":\"", it->size,
           it->seed);
    tool_print_hex(stdout, it->head, sizeof it->head);
    putchar('"');
  }
  return tool_result_end(rc);
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
    failures +=
        report("SET_MEM_TABLE",
               shmap_frontend_set_mem_table(ch, regs, (size_t)o->n), NULL);
  else
    for (int i = 0; i < o->n; i++)
      failures += report("ADD_MEM_REG", shmap_frontend_add_region(ch, &regs[i]),
                         &o->items[i]);
  if (o->config)
    failures += tool_vhost_get_config(ch);
  if (o->vring) {
    /* A split ring laid out as a driver would: desc, avail, used. */
    uint8_t *base = shmap_window_translate(guest, o->vring_gpa, 0x2000);
    uint64_t desc = base != NULL ? (uint64_t)(uintptr_t)base : o->vring_gpa;
    failures += tool_vhost_vring_addr(ch, desc, desc + 0x1000, desc + 0x800);
  }
  if (o->hold > 0) {
    printf("{\"event\":\"added\"}\n");
    fflush(stdout);
    tool_sleep_ms(o->hold * 1000);
  }
  for (int i = 0; o->remove && i < o->n; i++)
    failures +=
        report("REM_MEM_REG", shmap_frontend_remove_region(ch, &regs[i]), NULL);
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
  if (parse(argc, argv, &o) != 0) {
    fputs("usage: shmap send --connect ADDR --role frontend "
          "--region GPA:SIZE[:SEED] ... [--table] [--remove]\n"
          "                  [--negotiate] [--no-reply-ack] [--slots] "
          "[--config] [--vring GPA] [--hold SECONDS]\n"
          "       shmap send --connect ADDR --role backend "
          "--shmem ID:OFFSET:SIZE[:SEED][:ro] ... [--unmap] "
          "[--hold SECONDS]\n",
          stderr);
    return 2;
  }
  shmap_window *guest = NULL;
  int rc =
      o.role == SHMAP_ROLE_FRONTEND ? make_guest(&o, &guest) : make_buffers(&o);
  shmap_channel *ch = NULL;
  /* A front end talks on the main socket; a back end sends its requests
   * on a back-end request socket (here one that `serve` listens for). */
  if (rc == 0)
    rc = shmap_channel_connect(
        o.connect, o.role,
        o.role == SHMAP_ROLE_BACKEND ? SHMAP_CHANNEL_BACKEND_REQ : 0u, &ch);
  if (rc != 0) {
    fprintf(stderr, "shmap send: %s\n", shmap_last_message());
    shmap_window_release(guest);
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
                         it);
    }
    if (o.hold > 0) {
      printf("{\"event\":\"added\"}\n");
      fflush(stdout);
      tool_sleep_ms(o.hold * 1000);
    }
    for (int i = 0; o.unmap && i < o.n; i++)
      failures +=
          report("SHMEM_UNMAP",
                 shmap_backend_shmem_unmap(ch, (uint8_t)o.items[i].a,
                                           o.items[i].b, o.items[i].size),
                 NULL);
  }
  shmap_channel_close(ch);
  shmap_window_release(guest);
  for (int i = 0; i < o.n; i++)
    shmap_mappable_unref(o.items[i].m);
  return failures ? 1 : 0;
}
