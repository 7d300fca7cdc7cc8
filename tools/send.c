/* shmap send — the peer side: create memory, fill a pattern, send regions
 * (front end) or SHMEM_MAP requests (back end) and report every reply. */
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

static int parse(int argc, char **argv, struct send_opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--table") == 0) {
      o->table = 1;
      continue;
    }
    if (strcmp(a, "--remove") == 0 || strcmp(a, "--unmap") == 0) {
      o->remove = o->unmap = 1;
      continue;
    }
    if (v == NULL)
      return -1;
    i++;
    if (strcmp(a, "--connect") == 0) {
      o->connect = v;
    } else if (strcmp(a, "--role") == 0) {
      o->role = strcmp(v, "backend") == 0    ? SHMAP_ROLE_BACKEND
                : strcmp(v, "frontend") == 0 ? SHMAP_ROLE_FRONTEND
                                             : 0;
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
  return o->connect != NULL && o->role != 0 && o->n > 0 ? 0 : -1;
}

/* Make the item's memory and fill it with its pattern. */
static int fill(struct item *it) {
  int rc = shmap_mappable_create(it->size, 0, &it->m);
  shmap_window *w = NULL;
  if (rc == 0)
    rc = shmap_window_reserve(shmap_mappable_size(it->m), 0, &w);
  if (rc == 0)
    rc = shmap_window_map(w, 0, it->m, 0, it->size, SHMAP_PROT_RW);
  if (rc == 0) {
    uint8_t *p = shmap_window_base(w);
    for (uint64_t i = 0; i < it->size; i++)
      p[i] = (uint8_t)((i * 0x9E3779B97F4A7C15ull + 1) >> 56 ^ it->seed);
    memcpy(it->head, p, sizeof it->head);
  }
  shmap_window_release(w);
  return rc;
}

static int report(const char *request, int rc, const struct item *it) {
  printf("{\"request\":\"%s\",\"result\":%d", request, rc);
  if (rc != 0) {
    printf(",\"error\":\"%s\",\"message\":", shmap_err_name(rc));
    tool_print_json_string(stdout, shmap_last_message());
  }
  if (it != NULL) {
    printf(",\"size\":%llu,\"seed\":%u,\"head\":\"",
           (unsigned long long)it->size, it->seed);
    tool_print_hex(stdout, it->head, sizeof it->head);
    putchar('"');
  }
  printf("}\n");
  fflush(stdout);
  return rc != 0;
}

int tool_send(int argc, char **argv) {
  struct send_opts o;
  if (parse(argc, argv, &o) != 0) {
    fputs("usage: shmap send --connect ADDR --role frontend "
          "--region GPA:SIZE[:SEED] ... [--table] [--remove]\n"
          "       shmap send --connect ADDR --role backend "
          "--shmem ID:OFFSET:SIZE[:SEED][:ro] ... [--unmap]\n",
          stderr);
    return 2;
  }
  int failures = 0;
  for (int i = 0; i < o.n; i++)
    if (fill(&o.items[i]) != 0) {
      fprintf(stderr, "shmap send: %s\n", shmap_last_message());
      return 1;
    }
  shmap_channel *ch;
  /* We connect with the opposite role of the server we talk to. */
  int rc = shmap_channel_connect(
      o.connect,
      o.role == SHMAP_ROLE_BACKEND ? SHMAP_ROLE_BACKEND : SHMAP_ROLE_FRONTEND,
      0, &ch);
  if (rc != 0) {
    fprintf(stderr, "shmap send: %s\n", shmap_last_message());
    return 1;
  }
  if (o.role == SHMAP_ROLE_FRONTEND) {
    shmap_region regs[MAX_ITEMS];
    for (int i = 0; i < o.n; i++)
      regs[i] = (shmap_region){o.items[i].a, o.items[i].size, o.items[i].m, 0};
    if (o.table)
      failures +=
          report("SET_MEM_TABLE",
                 shmap_frontend_set_mem_table(ch, regs, (size_t)o.n), NULL);
    else
      for (int i = 0; i < o.n; i++)
        failures +=
            report("ADD_MEM_REG", shmap_frontend_add_region(ch, &regs[i]),
                   &o.items[i]);
    for (int i = 0; o.remove && i < o.n; i++)
      failures += report("REM_MEM_REG",
                         shmap_frontend_remove_region(ch, &regs[i]), NULL);
  } else {
    for (int i = 0; i < o.n; i++) {
      struct item *it = &o.items[i];
      failures +=
          report("SHMEM_MAP",
                 shmap_backend_shmem_map(ch, (uint8_t)it->a, it->m, 0, it->b,
                                         it->size, !it->readonly),
                 it);
    }
    for (int i = 0; o.unmap && i < o.n; i++)
      failures +=
          report("SHMEM_UNMAP",
                 shmap_backend_shmem_unmap(ch, (uint8_t)o.items[i].a,
                                           o.items[i].b, o.items[i].size),
                 NULL);
  }
  shmap_channel_close(ch);
  for (int i = 0; i < o.n; i++)
    shmap_mappable_unref(o.items[i].m);
  return failures ? 1 : 0;
}
