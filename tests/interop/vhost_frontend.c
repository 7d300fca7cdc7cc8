/* shmap interop — a shmap front end against a real vhost-user back end.
 *
 *   vhost_frontend SOCK PEER_PID [--no-reply-ack] [--regions N]
 *
 * Connects to the back end listening at SOCK (process PEER_PID), negotiates
 * (with REPLY_ACK when the peer offers it, or deliberately without), shares
 * N regions of 2 MiB (ADD_MEM_REG, or SET_MEM_TABLE for a peer without
 * CONFIGURE_MEM_SLOTS), and checks in the peer's /proc/PID/maps that it
 * really mapped each memfd (matched by inode); removes the first and checks
 * the peer unmapped it and kept the others; then asks GET_FEATURES again to
 * show the connection survived, and GET_MAX_MEM_SLOTS where agreed. Every
 * wait on the peer is bounded (the caller also runs it under timeout). One
 * JSON line per step; exit 0 when every check held.
 *
 * Linux only: it reads another process's maps. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shmap.h"

#define REGION_SIZE (2u << 20)
#define MAX_REGIONS 4
#define GUEST_BASE 0x100000000ull
/* How long a peer may take to map or unmap what it was sent. */
#define WAIT_NS 10000000000ll

static int failures;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void nap(void) {
  struct timespec t = {0, 20 * 1000 * 1000};
  nanosleep(&t, NULL);
}

static void step(const char *what, int rc, const char *extra) {
  printf("{\"step\":\"%s\",\"result\":%d", what, rc);
  if (rc != 0)
    printf(",\"error\":\"%s\",\"message\":\"%s\"", shmap_err_name(rc),
           shmap_last_message());
  if (extra != NULL)
    printf(",%s", extra);
  printf("}\n");
  fflush(stdout);
  if (rc != 0)
    failures++;
}

/* Does /proc/PID/maps show a shared mapping of inode `ino`? -1: no maps. */
static int peer_maps(long pid, unsigned long ino) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%ld/maps", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  int found = 0;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    char perms[8];
    unsigned long inode = 0;
    if (sscanf(line, "%*s %7s %*s %*s %lu", perms, &inode) == 2 &&
        perms[3] == 's' && inode == ino)
      found = 1;
  }
  fclose(f);
  return found;
}

/* Wait until the peer's maps show (want 1) or no longer show (want 0) the
 * memory of `m`. */
static int wait_maps(long pid, shmap_mappable *m, int want) {
  struct stat st;
  if (fstat(shmap_mappable_native(m), &st) != 0)
    return -1;
  long long end = now_ns() + WAIT_NS;
  int got;
  while ((got = peer_maps(pid, (unsigned long)st.st_ino)) != want && got >= 0 &&
         now_ns() < end)
    nap();
  return got;
}

/* Open descriptors of this process: nothing may leak. */
static int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (d == NULL)
    return -1;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> 8 * i);
}

static int get_u64(shmap_channel *ch, uint32_t code, uint64_t *v) {
  static shmap_msg reply;
  int rc = shmap_channel_call(ch, code, NULL, 0, NULL, 0, &reply);
  if (rc == 0) {
    rc = shmap_msg_u64(&reply, v);
    shmap_msg_release(&reply);
  }
  return rc;
}

/* The handshake without REPLY_ACK, by hand over shmap_channel_call: what a
 * VMM that runs the conversation itself does. */
static int negotiate_without_ack(shmap_channel *ch, uint64_t *agreed) {
  uint64_t features = 0, proto = 0;
  uint8_t p[8];
  shmap_channel_set_protocol_features(ch, 0);
  int rc = get_u64(ch, SHMAP_REQ_GET_FEATURES, &features);
  if (rc == 0 && (features & SHMAP_VHOST_F_PROTOCOL_FEATURES))
    rc = get_u64(ch, SHMAP_REQ_GET_PROTOCOL_FEATURES, &proto);
  proto &= SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS | SHMAP_PROTOCOL_F_BACKEND_REQ;
  put64(p, proto);
  if (rc == 0 && (features & SHMAP_VHOST_F_PROTOCOL_FEATURES))
    rc = shmap_channel_call(ch, SHMAP_REQ_SET_PROTOCOL_FEATURES, p, 8, NULL, 0,
                            NULL);
  if (rc == 0)
    rc = shmap_channel_call(ch, SHMAP_REQ_SET_OWNER, NULL, 0, NULL, 0, NULL);
  put64(p, features &
               (SHMAP_VHOST_F_PROTOCOL_FEATURES | SHMAP_VIRTIO_F_VERSION_1));
  if (rc == 0)
    rc = shmap_channel_call(ch, SHMAP_REQ_SET_FEATURES, p, 8, NULL, 0, NULL);
  if (rc == 0)
    shmap_channel_set_protocol_features(ch, proto);
  *agreed = proto;
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fputs("usage: vhost_frontend SOCK PEER_PID [--no-reply-ack] "
          "[--regions N]\n",
          stderr);
    return 2;
  }
  const char *sock = argv[1];
  long pid = strtol(argv[2], NULL, 10);
  int ack = 1, n = 2;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--no-reply-ack") == 0)
      ack = 0;
    else if (strcmp(argv[i], "--regions") == 0 && i + 1 < argc)
      n = atoi(argv[++i]);
  }
  if (n < 1 || n > MAX_REGIONS)
    n = 2;

  int fds_before = fd_count();
  shmap_channel *ch = NULL;
  long long end = now_ns() + WAIT_NS;
  int rc;
  while ((rc = shmap_channel_connect(sock, SHMAP_ROLE_FRONTEND, 0, &ch)) ==
             SHMAP_ENOENT &&
         now_ns() < end)
    nap();
  step("connect", rc, NULL);
  if (rc != 0)
    return 1;

  char extra[256];
  uint64_t agreed = 0, features0 = 0;
  shmap_negotiation neg;
  memset(&neg, 0, sizeof neg);
  if (ack) {
    rc = shmap_frontend_negotiate(ch, 0, 0, &neg);
    agreed = neg.protocol_features;
    features0 = neg.offered_features;
  } else {
    rc = negotiate_without_ack(ch, &agreed);
    if (rc == 0)
      rc = get_u64(ch, SHMAP_REQ_GET_FEATURES, &features0);
  }
  snprintf(extra, sizeof extra,
           "\"features\":\"0x%" PRIx64 "\",\"protocol_offered\":\"0x%" PRIx64
           "\",\"protocol\":\"0x%" PRIx64 "\",\"reply_ack\":%d",
           features0, neg.offered_protocol, agreed,
           (agreed & SHMAP_PROTOCOL_F_REPLY_ACK) != 0);
  step("negotiate", rc, extra);
  if (rc != 0)
    return 1;
  int slots = (agreed & SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS) != 0;

  /* Guest RAM as the VMM has it: each region mapped in its own window, so
   * its host address is real (the peer translates vrings through it). */
  shmap_mappable *m[MAX_REGIONS] = {0};
  shmap_window *w = NULL;
  shmap_region r[MAX_REGIONS];
  rc = shmap_window_reserve((uint64_t)MAX_REGIONS * REGION_SIZE, 0, &w);
  for (int i = 0; rc == 0 && i < n; i++) {
    rc = shmap_mappable_create(REGION_SIZE, 0, &m[i]);
    if (rc == 0)
      rc = shmap_window_map(w, (uint64_t)i * REGION_SIZE, m[i], 0, REGION_SIZE,
                            SHMAP_PROT_RW);
    if (rc == 0) {
      uint8_t *p = shmap_window_translate(w, (uint64_t)i * REGION_SIZE, 64);
      memset(p, 0xa0 + i, 64);
      r[i] = (shmap_region){.guest_address =
                                GUEST_BASE + (uint64_t)i * 2 * REGION_SIZE,
                            .size = REGION_SIZE,
                            .mappable = m[i],
                            .file_offset = 0,
                            .host = p};
    }
  }
  step("memory", rc, NULL);
  if (rc != 0)
    return 1;

  for (int i = 0; i < n; i++) {
    rc = shmap_frontend_add_region(ch, &r[i]);
    int mapped = rc == 0 ? wait_maps(pid, m[i], 1) : 0;
    snprintf(extra, sizeof extra,
             "\"method\":\"%s\",\"gpa\":\"0x%" PRIx64 "\",\"peer_maps\":%d",
             slots ? "ADD_MEM_REG" : "SET_MEM_TABLE", r[i].guest_address,
             mapped);
    step("add", rc == 0 && mapped != 1 ? SHMAP_ENOENT : rc, extra);
  }
  rc = shmap_frontend_remove_region(ch, &r[0]);
  int gone = rc == 0 ? wait_maps(pid, m[0], 0) : 1;
  int kept = n > 1 ? wait_maps(pid, m[1], 1) : 1;
  snprintf(extra, sizeof extra,
           "\"method\":\"%s\",\"peer_maps\":%d,\"others_kept\":%d",
           slots ? "REM_MEM_REG" : "SET_MEM_TABLE", gone, kept);
  step("remove", rc == 0 && (gone != 0 || kept != 1) ? SHMAP_ENOENT : rc,
       extra);

  uint64_t features1 = 0;
  rc = get_u64(ch, SHMAP_REQ_GET_FEATURES, &features1);
  snprintf(extra, sizeof extra, "\"same_features\":%d", features1 == features0);
  step("still_connected", rc == 0 && features1 != features0 ? SHMAP_EPROTO : rc,
       extra);
  if (slots) {
    uint64_t nslots = 0;
    rc = shmap_frontend_get_max_mem_slots(ch, &nslots);
    snprintf(extra, sizeof extra, "\"slots\":%" PRIu64, nslots);
    step("GET_MAX_MEM_SLOTS", rc, extra);
  }

  shmap_channel_close(ch);
  shmap_window_release(w);
  for (int i = 0; i < n; i++)
    shmap_mappable_unref(m[i]);
  int fds_after = fd_count();
  snprintf(extra, sizeof extra, "\"fds_before\":%d,\"fds_after\":%d",
           fds_before, fds_after);
  step("no_leak", fds_after != fds_before ? SHMAP_EOS : 0, extra);
  printf("{\"summary\":\"%s\",\"failures\":%d}\n", failures ? "FAIL" : "OK",
         failures);
  return failures ? 1 : 0;
}
