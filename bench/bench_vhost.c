/* shmap benchmarks — the region exchange against real vhost-user back ends.
 *
 *   shmap-bench --only vhost [--vhost-qsd SOCK] [--vhost-virtiofsd SOCK]
 *               [--vhost-dpdk SOCK]
 *
 * One shmap front end (shmap_frontend_negotiate, shmap_frontend_add_region /
 * remove_region / set_mem_table) shares two 2 MiB memfd regions, A and B,
 * with each back end on its own Unix socket, REPLY_ACK agreed with every one
 * of them, so each request waits for the back end's reply (the back end has
 * mapped or unmapped before the call returns). The reference back end is
 * shmap's own (shmap_backend_serve_one with a guest window) in a child
 * process forked for the purpose: process to process, as the real ones are.
 * bench/vhost-peers.sh starts the real ones and passes their sockets.
 *
 * Three exchanges, each timed per exchange (both messages and both replies):
 *   ADD_MEM_REG B + REM_MEM_REG B       (CONFIGURE_MEM_SLOTS peers only)
 *   SET_MEM_TABLE {B}, then {A}         one region swapped for another: the
 *                                       closest SET_MEM_TABLE equivalent
 *                                       (two messages, one fd each)
 *   SET_MEM_TABLE {A,B}, then {A}       exactly what add_region/remove_region
 *                                       of B send to a peer without
 *                                       CONFIGURE_MEM_SLOTS (DPDK) while A
 *                                       stays shared
 * In every row "ours" is shmap's back end doing the same exchange and the
 * baseline is the real back end; rounds of the back ends are interleaved
 * (bench_medians). One more baseline is the floor: a child answering the
 * same bytes and descriptors with bare recvmsg/send and mapping nothing.
 * The ", back-end CPU" rows are not wall time but the CPU time the back-end
 * process (all its threads, /proc/PID/task/ * /schedstat; the real peers'
 * pids from SO_PEERCRED) used per exchange, median of the same rounds: what
 * the back end itself does, apart from the wake-ups between the processes.
 * POSIX (Linux for the CPU rows). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REGION_SIZE (2ull << 20)
#define GPA_A 0x0ull
#define GPA_B 0x400000ull
#define GUEST_SPAN (16ull << 20)

/* P_FLOOR is no back end: a child that answers the same bytes and
 * descriptors and maps nothing (bare sendmsg/recvmsg), the floor every back
 * end stands on. */
enum { P_SHMAP, P_QSD, P_VIRTIOFSD, P_DPDK, P_FLOOR, P_COUNT };

struct vpeer {
  const char *option; /* --vhost-NAME */
  const char *label;  /* the baseline column */
  const char *sock;   /* NULL: not asked for */
  shmap_channel *ch;  /* NULL: not connected, or failed */
  uint64_t proto;     /* agreed protocol features */
  long pid;           /* the back end process (SO_PEERCRED), or 0 */
  int fd;             /* P_FLOOR: its socket, else -1 */
};

static struct vpeer peers[P_COUNT] = {
    {NULL, "shmap back end (child process)", NULL, NULL, 0, 0, -1},
    {"--vhost-qsd", "qemu-storage-daemon (libvhost-user)", NULL, NULL, 0, 0,
     -1},
    {"--vhost-virtiofsd", "virtiofsd (rust-vmm vhost-user-backend)", NULL, NULL,
     0, 0, -1},
    {"--vhost-dpdk", "dpdk-testpmd (net_vhost, librte_vhost)", NULL, NULL, 0, 0,
     -1},
    {NULL, "bare: same bytes+fds to a child, no mapping", NULL, NULL, 0, 0, -1},
};

static int alive(const struct vpeer *p) { return p->ch != NULL || p->fd >= 0; }

/* CPU time the whole process `pid` has used, all threads (schedstat: ns). */
static double cpu_ns(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR *d = opendir(path);
  if (d == NULL)
    return -1;
  double sum = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char f[320];
    snprintf(f, sizeof f, "/proc/%ld/task/%s/schedstat", pid, e->d_name);
    FILE *fp = fopen(f, "r");
    unsigned long long run = 0;
    if (fp != NULL) {
      if (fscanf(fp, "%llu", &run) == 1)
        sum += (double)run;
      fclose(fp);
    }
  }
  closedir(d);
  return sum;
}

static long peer_pid(int fd) {
  struct ucred cr;
  socklen_t len = sizeof cr;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 ? cr.pid : 0;
}

int bench_vhost_option(const char *opt, const char *value) {
  for (int i = 0; i < P_COUNT; i++)
    if (peers[i].option != NULL && strcmp(opt, peers[i].option) == 0) {
      peers[i].sock = value;
      return 1;
    }
  return 0;
}

enum job { J_ADDREM, J_SWAP, J_GROW };

struct vjob {
  enum job job;
  int iters;
  shmap_region a, b;
  int active[P_COUNT]; /* peer indexes taking part, in order */
  int n;
  /* Per slot: the back end's CPU ns per exchange, one entry a round. */
  double cpu[P_COUNT][BENCH_MAX_ROUNDS];
  int ncpu[P_COUNT];
};

static struct vjob cur;

/* A failed peer is reported once and leaves the run; the others go on. */
static void peer_failed(struct vpeer *p, const char *what, int rc) {
  fprintf(stderr, "shmap-bench: vhost %s: %s: %s (%s)\n", p->label, what,
          shmap_err_name(rc), shmap_last_message());
  shmap_channel_close(p->ch);
  p->ch = NULL;
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
}

/* ---- the floor: the exchange's bytes and descriptors, nothing mapped ---- */

static int floor_msg(int fd, uint32_t size, size_t nfds) {
  uint8_t buf[12 + 8 + 32 * 2] = {0}, rep[20];
  buf[0] = 37;  /* any request: the child does not look */
  buf[4] = 0x9; /* version | NEED_REPLY */
  buf[8] = (uint8_t)size;
  int fds[2] = {shmap_mappable_native(cur.a.mappable),
                shmap_mappable_native(cur.b.mappable)};
  char cbuf[CMSG_SPACE(sizeof fds)];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {buf, 12 + size};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (nfds > 0) {
    mh.msg_control = cbuf;
    mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)(12 + size))
    return SHMAP_EOS;
  size_t got = 0;
  while (got < sizeof rep) {
    ssize_t n = recv(fd, rep + got, sizeof rep - got, 0);
    if (n <= 0)
      return SHMAP_ECLOSED;
    got += (size_t)n;
  }
  return 0;
}

static _Noreturn void floor_main(int fd) {
  for (;;) {
    uint8_t hdr[12], body[8 + 32 * 8];
    char cbuf[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n != (ssize_t)sizeof hdr)
      _exit(n == 0 ? 0 : 6);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
         c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
          int f;
          memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
          close(f);
        }
      }
    size_t size = hdr[8] | (size_t)hdr[9] << 8, got = 0;
    if (size > sizeof body)
      _exit(7);
    while (got < size) {
      n = recv(fd, body + got, size - got, 0);
      if (n <= 0)
        _exit(8);
      got += (size_t)n;
    }
    uint8_t rep[20] = {0};
    memcpy(rep, hdr, 4);
    rep[4] = 0x5; /* version | REPLY */
    rep[8] = 8;
    if (send(fd, rep, sizeof rep, MSG_NOSIGNAL) != (ssize_t)sizeof rep)
      _exit(9);
  }
}

static pid_t start_floor(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    bench_fail("socketpair");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    bench_fail("fork");
  if (pid == 0) {
    close(sv[0]);
    floor_main(sv[1]);
  }
  close(sv[1]);
  peers[P_FLOOR].fd = sv[0];
  peers[P_FLOOR].pid = pid;
  peers[P_FLOOR].proto = SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS;
  return pid;
}

static int exchange(struct vpeer *p) {
  int rc;
  if (p->fd >= 0) {
    /* Sizes and descriptor counts of the two messages of each job. */
    uint32_t size1 = cur.job == J_GROW ? 8 + 64 : 40;
    size_t nfds1 = cur.job == J_GROW ? 2 : 1;
    rc = floor_msg(p->fd, size1, nfds1);
    if (rc == 0)
      rc = floor_msg(p->fd, 40, cur.job == J_ADDREM ? 0 : 1);
    return rc;
  }
  switch (cur.job) {
  case J_ADDREM:
    rc = shmap_frontend_add_region(p->ch, &cur.b);
    if (rc == 0)
      rc = shmap_frontend_remove_region(p->ch, &cur.b);
    return rc;
  case J_SWAP:
    rc = shmap_frontend_set_mem_table(p->ch, &cur.b, 1);
    if (rc == 0)
      rc = shmap_frontend_set_mem_table(p->ch, &cur.a, 1);
    return rc;
  default: {
    shmap_region ab[2] = {cur.a, cur.b};
    rc = shmap_frontend_set_mem_table(p->ch, ab, 2);
    if (rc == 0)
      rc = shmap_frontend_set_mem_table(p->ch, &cur.a, 1);
    return rc;
  }
  }
}

static double run_peer(int slot) {
  struct vpeer *p = &peers[cur.active[slot]];
  if (!alive(p))
    return 0;
  double c0 = p->pid ? cpu_ns(p->pid) : -1;
  double t0 = bench_now_ns();
  for (int i = 0; i < cur.iters; i++) {
    int rc = exchange(p);
    if (rc != 0) {
      peer_failed(p, "exchange", rc);
      return 0;
    }
  }
  double ns = (bench_now_ns() - t0) / cur.iters;
  double c1 = c0 >= 0 ? cpu_ns(p->pid) : -1;
  if (c1 >= 0 && cur.ncpu[slot] < BENCH_MAX_ROUNDS)
    cur.cpu[slot][cur.ncpu[slot]++] = (c1 - c0) / cur.iters;
  return ns;
}

static double run0(void *u) {
  (void)u;
  return run_peer(0);
}
static double run1(void *u) {
  (void)u;
  return run_peer(1);
}
static double run2(void *u) {
  (void)u;
  return run_peer(2);
}
static double run3(void *u) {
  (void)u;
  return run_peer(3);
}
static double run4(void *u) {
  (void)u;
  return run_peer(4);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double cpu_median(int slot) {
  int n = cur.ncpu[slot];
  if (n == 0)
    return -1;
  qsort(cur.cpu[slot], (size_t)n, sizeof(double), cmp_double);
  return cur.cpu[slot][n / 2];
}

/* ---- shmap's own back end, in a child process ---- */

static _Noreturn void child_main(shmap_listener *l) {
  shmap_channel *ch;
  shmap_window *guest;
  shmap_backend *be;
  if (peers[P_FLOOR].fd >= 0)
    close(peers[P_FLOOR].fd); /* the floor child's: it must see it close */
  if (shmap_listener_accept(l, SHMAP_ROLE_BACKEND, 0, &ch) != 0)
    _exit(3);
  shmap_listener_close(l);
  if (shmap_window_reserve(GUEST_SPAN, 0, &guest) != 0 ||
      shmap_backend_create(guest, NULL, &be) != 0)
    _exit(4);
  /* What libvhost-user offers of the memory features. */
  shmap_backend_answer_handshake(be, SHMAP_VIRTIO_F_VERSION_1,
                                 SHMAP_PROTOCOL_F_REPLY_ACK |
                                     SHMAP_PROTOCOL_F_BACKEND_REQ |
                                     SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  shmap_event ev;
  int rc;
  while ((rc = shmap_backend_serve_one(be, ch, &ev)) == 0)
    ;
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  shmap_channel_close(ch);
  _exit(rc == SHMAP_ECLOSED ? 0 : 5);
}

static pid_t start_child(char *dir, size_t dirlen) {
  char tmpl[] = "/tmp/shmap-bench-vhost.XXXXXX";
  if (mkdtemp(tmpl) == NULL)
    bench_fail("mkdtemp");
  snprintf(dir, dirlen, "%s", tmpl);
  char path[128];
  snprintf(path, sizeof path, "%s/be.sock", dir);
  shmap_listener *l;
  if (shmap_listener_open(path, &l) != 0)
    bench_fail("listener open");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    bench_fail("fork");
  if (pid == 0)
    child_main(l);
  /* Listening already: the connection waits in the backlog for the child. */
  int rc = shmap_channel_connect(path, SHMAP_ROLE_FRONTEND, 0, &peers[0].ch);
  shmap_listener_close(l);
  if (rc != 0)
    bench_fail("connect to the shmap back end");
  peers[0].sock = "(forked)";
  peers[0].pid = pid;
  return pid;
}

static void connect_peer(struct vpeer *p) {
  if (p->sock == NULL)
    return;
  int rc = shmap_channel_connect(p->sock, SHMAP_ROLE_FRONTEND, 0, &p->ch);
  if (rc != 0) {
    fprintf(stderr, "shmap-bench: vhost %s at %s: connect: %s (%s)\n", p->label,
            p->sock, shmap_err_name(rc), shmap_last_message());
    p->ch = NULL;
    return;
  }
  shmap_negotiation n;
  rc = shmap_frontend_negotiate(p->ch, 0, 0, &n);
  if (rc != 0) {
    peer_failed(p, "negotiate", rc);
    return;
  }
  p->proto = n.protocol_features;
  p->pid = peer_pid(shmap_channel_native(p->ch));
  if (!(p->proto & SHMAP_PROTOCOL_F_REPLY_ACK)) {
    fprintf(stderr, "shmap-bench: vhost %s: no REPLY_ACK, skipped\n", p->label);
    shmap_channel_close(p->ch);
    p->ch = NULL;
  }
}

/* `name` is the row; the CPU row is `name` + ", back-end CPU". */
static void run_job(enum job job, const char *name) {
  cur.job = job;
  cur.n = 0;
  memset(cur.ncpu, 0, sizeof cur.ncpu);
  for (int i = 0; i < P_COUNT; i++) {
    struct vpeer *p = &peers[i];
    if (!alive(p) ||
        (job == J_ADDREM && !(p->proto & SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS)))
      continue;
    /* The table rows start from {A}, and every exchange ends there. */
    int rc = job == J_ADDREM || p->ch == NULL
                 ? 0
                 : shmap_frontend_set_mem_table(p->ch, &cur.a, 1);
    /* One exchange off the clock: first-time costs out of the rounds. */
    if (rc == 0)
      rc = exchange(p);
    if (rc != 0) {
      peer_failed(p, "warm-up", rc);
      continue;
    }
    cur.active[cur.n++] = i;
  }
  if (cur.n == 0 || cur.active[0] != P_SHMAP)
    return; /* no reference to compare with */
  double (*const fn[])(void *) = {run0, run1, run2, run3, run4};
  double t[P_COUNT];
  bench_medians(fn, cur.n, NULL, bench_quick ? 3 : 33, t);
  if (!alive(&peers[P_SHMAP]))
    bench_fail("the shmap back end");
  char cpu_name[80];
  snprintf(cpu_name, sizeof cpu_name, "%s, back-end CPU", name);
  double ours_cpu = cpu_median(0);
  for (int s = 1; s < cur.n; s++) {
    struct vpeer *p = &peers[cur.active[s]];
    if (alive(p)) /* else it failed during the rounds: said why */
      bench_add(name, t[0], p->label, t[s]);
  }
  for (int s = 1; s < cur.n; s++) {
    struct vpeer *p = &peers[cur.active[s]];
    if (alive(p) && ours_cpu >= 0 && cpu_median(s) >= 0)
      bench_add(cpu_name, ours_cpu, p->label, cpu_median(s));
  }
}

static void setup_regions(shmap_window **w, shmap_mappable **ma,
                          shmap_mappable **mb) {
  if (shmap_window_reserve(2 * REGION_SIZE, 0, w) != 0 ||
      shmap_mappable_create(REGION_SIZE, 0, ma) != 0 ||
      shmap_mappable_create(REGION_SIZE, 0, mb) != 0 ||
      shmap_window_map(*w, 0, *ma, 0, REGION_SIZE, SHMAP_PROT_RW) != 0 ||
      shmap_window_map(*w, REGION_SIZE, *mb, 0, REGION_SIZE, SHMAP_PROT_RW) !=
          0)
    bench_fail("vhost setup");
  void *ha = shmap_window_translate(*w, 0, REGION_SIZE);
  void *hb = shmap_window_translate(*w, REGION_SIZE, REGION_SIZE);
  memset(ha, 0xa0, 64);
  memset(hb, 0xb0, 64);
  cur.a = (shmap_region){.guest_address = GPA_A,
                         .size = REGION_SIZE,
                         .mappable = *ma,
                         .file_offset = 0,
                         .host = ha};
  cur.b = (shmap_region){.guest_address = GPA_B,
                         .size = REGION_SIZE,
                         .mappable = *mb,
                         .file_offset = 0,
                         .host = hb};
}

void bench_vhost(int asked) {
  int any = 0;
  for (int i = 1; i < P_COUNT; i++)
    any |= peers[i].sock != NULL;
  if (!asked && !any)
    return; /* the real back ends run only when given */
  /* Forked first, so the child holds no copy of the real peers' sockets
   * (a peer that serves one connection must see it close). */
  pid_t floor_child = start_floor();
  char dir[64];
  pid_t child = start_child(dir, sizeof dir);
  for (int i = 0; i < P_FLOOR; i++)
    if (i == P_SHMAP) {
      shmap_negotiation n;
      int rc = shmap_frontend_negotiate(peers[0].ch, 0, 0, &n);
      if (rc != 0)
        bench_fail("negotiate with the shmap back end");
      peers[0].proto = n.protocol_features;
    } else {
      connect_peer(&peers[i]);
    }
  shmap_window *w;
  shmap_mappable *ma, *mb;
  setup_regions(&w, &ma, &mb);
  cur.iters = bench_quick ? 5 : 40;
  run_job(J_ADDREM, "vhost ADD+REM_MEM_REG 2 MiB");
  run_job(J_SWAP, "vhost SET_MEM_TABLE {B},{A} 2 MiB");
  run_job(J_GROW, "vhost SET_MEM_TABLE {A,B},{A} 2 MiB");
  for (int i = 0; i < P_COUNT; i++) {
    shmap_channel_close(peers[i].ch);
    peers[i].ch = NULL;
    if (peers[i].fd >= 0)
      close(peers[i].fd);
    peers[i].fd = -1;
  }
  pid_t kids[2] = {child, floor_child};
  for (int i = 0; i < 2; i++) {
    int status = 0;
    if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      fprintf(stderr, "shmap-bench: vhost child %d ended badly (status 0x%x)\n",
              (int)kids[i], status);
  }
  rmdir(dir);
  shmap_window_release(w);
  shmap_mappable_unref(ma);
  shmap_mappable_unref(mb);
}
