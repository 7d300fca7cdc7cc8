/* shmap tool — parsing and printing helpers. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#  include <windows.h>
#else
#  include <time.h>
#endif

#include "tool.h"

int tool_parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || end == s)
    return -1;
  unsigned shift = 0;
  switch (*end) {
  case 'K':
  case 'k':
    shift = 10;
    end++;
    break;
  case 'M':
  case 'm':
    shift = 20;
    end++;
    break;
  case 'G':
  case 'g':
    shift = 30;
    end++;
    break;
  default: break;
  }
  if (*end != '\0' && *end != ':')
    return -1;
  if (shift && v > (UINT64_MAX >> shift))
    return -1;
  *out = (uint64_t)v << shift;
  return 0;
}

void tool_print_hex(FILE *f, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%02x", b[i]);
}

void tool_print_msg_fields(FILE *f, const shmap_wire_msg *m) {
  if (m->hdr.flags & SHMAP_WIRE_REPLY) {
    fprintf(f, ",\"value\":%" PRIu64, m->u.u64);
    return;
  }
  switch (m->hdr.request) {
  case SHMAP_REQ_SET_MEM_TABLE:
    fprintf(f, ",\"num_regions\":%" PRIu32 ",\"regions\":[",
            m->u.mem_table.num_regions);
    for (uint32_t i = 0; i < m->u.mem_table.num_regions; i++) {
      const shmap_wire_region *r = &m->u.mem_table.regions[i];
      fprintf(f,
              "%s{\"guest_phys_addr\":%" PRIu64 ",\"memory_size\":%" PRIu64
              ",\"userspace_addr\":%" PRIu64 ",\"mmap_offset\":%" PRIu64 "}",
              i ? "," : "", r->guest_phys_addr, r->memory_size,
              r->userspace_addr, r->mmap_offset);
    }
    fputc(']', f);
    break;
  case SHMAP_REQ_ADD_MEM_REG:
  case SHMAP_REQ_REM_MEM_REG:
    fprintf(f,
            ",\"guest_phys_addr\":%" PRIu64 ",\"memory_size\":%" PRIu64
            ",\"userspace_addr\":%" PRIu64 ",\"mmap_offset\":%" PRIu64,
            m->u.region.guest_phys_addr, m->u.region.memory_size,
            m->u.region.userspace_addr, m->u.region.mmap_offset);
    break;
  case SHMAP_REQ_SHMEM_MAP:
  case SHMAP_REQ_SHMEM_UNMAP:
    fprintf(f,
            ",\"shmid\":%u,\"fd_offset\":%" PRIu64 ",\"shm_offset\":%" PRIu64
            ",\"len\":%" PRIu64 ",\"flags\":%" PRIu64,
            m->u.mmap.shmid, m->u.mmap.fd_offset, m->u.mmap.shm_offset,
            m->u.mmap.len, m->u.mmap.flags);
    break;
  case SHMAP_REQ_EXTERNAL_MAP:
    fprintf(f,
            ",\"shmid\":%u,\"shm_offset\":%" PRIu64 ",\"len\":%" PRIu64
            ",\"ptr\":%" PRIu64,
            m->u.external.shmid, m->u.external.shm_offset, m->u.external.len,
            m->u.external.ptr);
    break;
  default: break;
  }
}

void tool_print_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

void tool_line_begin(const char *name, uint32_t code, int result,
                     const char *why) {
  printf("{\"request\":\"%s\",\"code\":%" PRIu32 ",\"result\":%d", name, code,
         result);
  if (result != 0) {
    printf(",\"error\":\"%s\",\"message\":", shmap_err_name(result));
    tool_print_json_string(stdout, why != NULL ? why : shmap_last_message());
  }
}

void tool_line_end(int foreign, size_t live) {
  if (foreign)
    printf(",\"foreign\":true");
  printf(",\"live\":%zu}\n", live);
  fflush(stdout);
}

uint32_t tool_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

uint64_t tool_le64(const uint8_t *p) {
  return (uint64_t)tool_le32(p) | (uint64_t)tool_le32(p + 4) << 32;
}

void tool_put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

void tool_put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

void tool_sleep_ms(uint64_t ms) {
#ifdef _WIN32
  Sleep((DWORD)ms);
#else
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
#endif
}

void tool_result_begin(const char *request, int rc) {
  printf("{\"request\":\"%s\",\"result\":%d", request, rc);
  if (rc != 0) {
    printf(",\"error\":\"%s\",\"message\":", shmap_err_name(rc));
    tool_print_json_string(stdout, shmap_last_message());
  }
}

int tool_result_end(int rc) {
  printf("}\n");
  fflush(stdout);
  return rc != 0;
}

int tool_usage_error(const char *cmd, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  /* The analyzer loses track of va_start here (a false positive). */
  vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT
  va_end(ap);
  fprintf(stderr, "shmap %s: %s\nTry 'shmap %s --help'.\n", cmd, msg, cmd);
  return 2;
}

int tool_bad_option(const char *cmd, int c, char **argv) {
  const char *arg = argv[optind - 1];
  if (c == ':')
    return tool_usage_error(cmd, "option %s needs a value", arg);
  if (optopt != 0 && (arg == NULL || arg[0] != '-' || arg[1] == '-'))
    return tool_usage_error(cmd, "unknown option -%c", optopt);
  return tool_usage_error(cmd, "unknown option %s", arg);
}

int tool_check_common(const char *cmd, int argc, char **argv, const char *addr,
                      const char *addr_opt, unsigned role,
                      const char *frontend_only, const char *backend_only) {
  if (optind < argc)
    return tool_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (addr == NULL)
    return tool_usage_error(cmd, "missing %s ADDR", addr_opt);
  if (role == 0)
    return tool_usage_error(cmd, "missing --role backend|frontend");
  if (role == SHMAP_ROLE_BACKEND && frontend_only != NULL)
    return tool_usage_error(cmd, "%s is for --role frontend only",
                            frontend_only);
  if (role == SHMAP_ROLE_FRONTEND && backend_only != NULL)
    return tool_usage_error(cmd, "%s is for --role backend only", backend_only);
  return 0;
}

int tool_opt_size(const char *cmd, const char *opt, const char *v,
                  uint64_t *out) {
  if (tool_parse_size(v, out) == 0 && strchr(v, ':') == NULL)
    return 0;
  return tool_usage_error(cmd,
                          "%s: bad size '%s' (a number, decimal or 0x hex, "
                          "optionally followed by K, M or G: 1K = 1024)",
                          opt, v);
}

int tool_opt_role(const char *cmd, const char *v, unsigned *role) {
  if (strcmp(v, "backend") == 0)
    *role = SHMAP_ROLE_BACKEND;
  else if (strcmp(v, "frontend") == 0)
    *role = SHMAP_ROLE_FRONTEND;
  else
    return tool_usage_error(
        cmd, "--role: unknown role '%s' (backend or frontend)", v);
  return 0;
}

int tool_opt_seconds(const char *cmd, const char *opt, const char *v,
                     double min_s, double max_s, uint64_t *ms) {
  char *end;
  double sec = strtod(v, &end);
  if (end == v || *end != '\0' || !(sec >= min_s && sec <= max_s))
    return tool_usage_error(cmd, "%s: bad number of seconds '%s' (%g to %g)",
                            opt, v, min_s, max_s);
  *ms = (uint64_t)(sec * 1000.0 + 0.5);
  return 0;
}

int tool_fatal(int rc, const char *what, const char *message) {
  printf("{\"event\":\"error\"");
  if (rc != 0)
    printf(",\"error\":\"%s\"", shmap_err_name(rc));
  printf(",\"message\":");
  char buf[1024];
  snprintf(buf, sizeof buf, "%s: %s", what,
           message != NULL ? message : shmap_last_message());
  tool_print_json_string(stdout, buf);
  printf("}\n");
  fflush(stdout);
  return 1;
}
