/* shmap inside a real vhost-user connection: foreign messages pass through
 * whole (to a callback, or to the caller's own loop), the channel's role and
 * kind decide the code space, negotiated protocol features decide
 * NEED_REPLY and ADD/REM_MEM_REG versus SET_MEM_TABLE, REM_MEM_REG repeats
 * what ADD_MEM_REG sent, and the back end translates the front end's
 * addresses. Runs natively and under Wine. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define G shmap_map_granularity()
#define TB SHMAP_WIRE_TO_BACKEND
#define TF SHMAP_WIRE_TO_FRONTEND

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static shmap_msg *msg_new(void) {
  shmap_msg *m = calloc(1, sizeof *m);
  cr_assert_not_null(m);
  return m;
}

/* ---- a back end (or front end) serving on its own thread ---- */

struct server {
  shmap_backend *be;
  shmap_frontend *fe;
  shmap_channel *ch;
  int n;
  int rc[16];
  shmap_event ev[16];
};

static void serve(void *arg) {
  struct server *s = arg;
  for (int i = 0; i < s->n; i++)
    s->rc[i] = s->be != NULL
                   ? shmap_backend_serve_one(s->be, s->ch, &s->ev[i])
                   : shmap_frontend_serve_one(s->fe, s->ch, &s->ev[i]);
}

/* Serve until the peer hangs up (at most 16 messages); s->n becomes the
 * number served. A test whose front end sends more than it should then
 * fails on the count instead of hanging on an unanswered request. */
static void serve_all(void *arg) {
  struct server *s = arg;
  int i = 0;
  while (i < 16) {
    int rc = s->be != NULL ? shmap_backend_serve_one(s->be, s->ch, &s->ev[i])
                           : shmap_frontend_serve_one(s->fe, s->ch, &s->ev[i]);
    if (rc != 0)
      break;
    s->rc[i++] = rc;
  }
  s->n = i;
}

#define WITH_SERVER(srv, count, ...)                                           \
  do {                                                                         \
    (srv).n = (count);                                                         \
    test_thread *t_ = test_thread_start(serve, &(srv));                        \
    cr_assert_not_null(t_);                                                    \
    __VA_ARGS__;                                                               \
    test_thread_join(t_);                                                      \
  } while (0)

/* ---- foreign messages ---- */

#define MAX_SEEN 8
struct seen {
  int n;
  uint32_t code[MAX_SEEN], flags[MAX_SEEN], size[MAX_SEEN];
  int direction[MAX_SEEN], known[MAX_SEEN];
  uint8_t payload[MAX_SEEN][16];
  size_t nfds[MAX_SEEN];
  int fd_open[MAX_SEEN];
  int reply_rc[MAX_SEEN];
};

#define DEVICE_FEATURES 0x1234ull

/* The device's own handling of what shmap does not: record, answer when an
 * answer is due, and close the descriptors (the callback owns them). */
static int on_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  struct seen *s = ctx;
  int i = s->n++;
  if (i >= MAX_SEEN)
    return SHMAP_ELIMIT;
  s->code[i] = m->hdr.request;
  s->flags[i] = m->hdr.flags;
  s->size[i] = m->hdr.size;
  s->direction[i] = m->direction;
  s->known[i] = m->known;
  memcpy(s->payload[i], m->payload, m->hdr.size < 16 ? m->hdr.size : 16);
  s->nfds[i] = m->nfds;
  s->fd_open[i] = m->nfds == 1 && test_native_is_open(m->fds[0]);
  shmap_msg_release(m);
  if (m->hdr.request == SHMAP_REQ_GET_FEATURES)
    s->reply_rc[i] =
        shmap_channel_reply_u64(ch, SHMAP_REQ_GET_FEATURES, DEVICE_FEATURES);
  else if (m->hdr.flags & SHMAP_WIRE_NEED_REPLY)
    s->reply_rc[i] = shmap_channel_reply(ch, m->hdr.request, 0);
  return 0;
}

SHMAP_TEST(vhost, foreign_messages_reach_the_callback_in_order) {
  struct test_rig r;
  ASSERT_OK(test_rig_open(&r, 0));
  struct seen seen;
  memset(&seen, 0, sizeof seen);
  shmap_backend_on_foreign(r.be, on_foreign, &seen);
  struct server s = {.be = r.be, .ch = r.back};
  shmap_region reg = test_rig_region(&r, 16 * G, 4 * G, 2 * G);
  shmap_native_t kick = test_event_open();
  cr_assert(test_native_is_open(kick));
  uint8_t idx0[8], idx1[8];
  le64(idx0, 0);
  le64(idx1, 0x0100000000000001ull); /* index 1 and a high byte set */
  shmap_msg *reply = msg_new();
  int rc[6];
  uint64_t features[2] = {0, 0};
  WITH_SERVER(s, 5, {
    /* GET_FEATURES sent raw; its reply read with recv_msg. */
    rc[0] = shmap_channel_send_msg(r.front, SHMAP_REQ_GET_FEATURES, 0, NULL, 0,
                                   NULL, 0);
    rc[1] = shmap_channel_recv_msg(r.front, reply);
    if (rc[1] == 0) {
      cr_assert_eq(reply->known, 0);
      cr_assert_eq(reply->hdr.request, SHMAP_REQ_GET_FEATURES);
      cr_assert_eq(reply->hdr.flags, 0x5);
      cr_assert_eq(reply->direction, TB);
      cr_assert_eq(reply->nfds, 0);
      ASSERT_OK(shmap_msg_u64(reply, &features[0]));
    }
    /* A memory message in between is still applied. */
    rc[2] = shmap_frontend_add_region(r.front, &reg);
    /* SET_VRING_KICK with its descriptor, without and with NEED_REPLY. */
    rc[3] = shmap_channel_send_msg(r.front, SHMAP_REQ_SET_VRING_KICK, 0, idx0,
                                   8, &kick, 1);
    rc[4] = shmap_channel_call(r.front, SHMAP_REQ_SET_VRING_KICK, idx1, 8,
                               &kick, 1, NULL);
    /* GET_FEATURES by call: always answered, waited for. */
    rc[5] = shmap_channel_call(r.front, SHMAP_REQ_GET_FEATURES, NULL, 0, NULL,
                               0, reply);
    if (rc[5] == 0)
      ASSERT_OK(shmap_msg_u64(reply, &features[1]));
  });
  for (int i = 0; i < 6; i++)
    cr_assert_eq(rc[i], 0, "front-end step %d: %s", i, shmap_err_name(rc[i]));
  for (int i = 0; i < 5; i++)
    cr_assert_eq(s.rc[i], 0, "serving %d: %s", i, shmap_err_name(s.rc[i]));
  cr_assert_eq(features[0], DEVICE_FEATURES);
  cr_assert_eq(features[1], DEVICE_FEATURES);
  /* The callback saw the four foreign requests, in order, whole. */
  cr_assert_eq(seen.n, 4);
  static const uint32_t want[4] = {
      SHMAP_REQ_GET_FEATURES, SHMAP_REQ_SET_VRING_KICK,
      SHMAP_REQ_SET_VRING_KICK, SHMAP_REQ_GET_FEATURES};
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(seen.code[i], want[i], "foreign %d: code %u", i, seen.code[i]);
    cr_assert_eq(seen.direction[i], TB);
    cr_assert_eq(seen.known[i], 0);
    cr_assert_eq(seen.reply_rc[i], 0);
  }
  cr_assert_eq(seen.flags[0], 0x1);
  cr_assert_eq(seen.flags[1], 0x1, "send_msg adds only the version");
  cr_assert_eq(seen.flags[2], 0x1 | SHMAP_WIRE_NEED_REPLY,
               "call sets NEED_REPLY under REPLY_ACK");
  cr_assert_eq(seen.flags[3], 0x1, "an always-answered request needs none");
  cr_assert_eq(seen.size[0], 0);
  cr_assert_eq(seen.size[1], 8);
  cr_assert_eq(memcmp(seen.payload[1], idx0, 8), 0);
  cr_assert_eq(memcmp(seen.payload[2], idx1, 8), 0);
  cr_assert_eq(seen.nfds[1], 1);
  cr_assert_eq(seen.nfds[2], 1);
  cr_assert(seen.fd_open[1] && seen.fd_open[2],
            "the callback got open descriptors");
  cr_assert_eq(seen.nfds[0], 0);
  /* The events say which was which. */
  cr_assert_eq(s.ev[0].foreign, 1);
  cr_assert_eq(s.ev[0].request, SHMAP_REQ_GET_FEATURES);
  cr_assert_eq(s.ev[1].foreign, 0);
  cr_assert_eq(s.ev[1].request, SHMAP_REQ_ADD_MEM_REG);
  cr_assert_eq(s.ev[1].result, 0);
  cr_assert_eq(s.ev[2].foreign, 1);
  cr_assert_eq(s.ev[2].direction, TB);
  cr_assert_eq(shmap_backend_count(r.be), 1);
  cr_assert_eq(memcmp(shmap_window_translate(r.guest, 16 * G, 4 * G),
                      test_rig_host(&r, 2 * G), (size_t)(4 * G)),
               0);
  shmap_native_close(kick);
  free(reply);
  test_rig_close(&r);
}

SHMAP_TEST(vhost, foreign_request_without_callback_is_refused) {
  struct test_rig r;
  ASSERT_OK(test_rig_open(&r, 0));
  struct server s = {.be = r.be, .ch = r.back};
  shmap_region reg = test_rig_region(&r, 0, 2 * G, 0);
  shmap_native_t kick = test_event_open();
  uint8_t addr[40];
  memset(addr, 0, sizeof addr);
  le64(addr + 8, 0x7f0000001000ull);
  uint8_t idx[8];
  le64(idx, 0);
  shmap_msg *reply = msg_new();
  int rc[5];
  WITH_SERVER(s, 5, {
    /* NEED_REPLY set (REPLY_ACK): answered with a failure. */
    rc[0] = shmap_channel_call(r.front, SHMAP_REQ_SET_VRING_ADDR, addr,
                               sizeof addr, NULL, 0, NULL);
    rc[1] = shmap_channel_call(r.front, SHMAP_REQ_SET_VRING_KICK, idx, 8, &kick,
                               1, NULL);
    /* Without NEED_REPLY: nothing answered, nothing waited for. */
    rc[2] = shmap_channel_send_msg(r.front, SHMAP_REQ_SET_OWNER, 0, NULL, 0,
                                   NULL, 0);
    /* Always answered: the answer is the refusal. */
    rc[3] = shmap_channel_call(r.front, SHMAP_REQ_GET_FEATURES, NULL, 0, NULL,
                               0, reply);
    /* The channel keeps working. */
    rc[4] = shmap_frontend_add_region(r.front, &reg);
  });
  cr_assert_eq(rc[0], SHMAP_EREQUEST, "got %s", shmap_err_name(rc[0]));
  cr_assert_eq(rc[1], SHMAP_EREQUEST, "got %s", shmap_err_name(rc[1]));
  cr_assert_eq(rc[2], 0);
  cr_assert_eq(rc[3], 0, "got %s", shmap_err_name(rc[3]));
  uint64_t v = 0;
  ASSERT_OK(shmap_msg_u64(reply, &v));
  cr_assert_eq(shmap_wire_reply_result(v), SHMAP_EREQUEST);
  cr_assert_eq(rc[4], 0, "got %s", shmap_err_name(rc[4]));
  for (int i = 0; i < 5; i++)
    cr_assert_eq(s.rc[i], 0, "serving %d: the channel stays usable", i);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(s.ev[i].foreign, 1);
    cr_assert_eq(s.ev[i].result, SHMAP_EREQUEST);
  }
  cr_assert_eq(s.ev[0].request, SHMAP_REQ_SET_VRING_ADDR);
  cr_assert_eq(s.ev[4].foreign, 0);
  cr_assert_eq(shmap_backend_count(r.be), 1);
  cr_assert_eq(test_native_pending(shmap_channel_native(r.front)), 0,
               "no answer to SET_OWNER, nothing else left over");
  shmap_native_close(kick);
  free(reply);
  test_rig_close(&r);
}

struct big_send {
  shmap_channel *ch;
  const uint8_t *p;
  int rc;
};

static void send_big(void *arg) {
  struct big_send *w = arg;
  w->rc = shmap_channel_send_msg(w->ch, SHMAP_REQ_SET_CONFIG, 0, w->p,
                                 SHMAP_MSG_MAX_PAYLOAD, NULL, 0);
}

SHMAP_TEST(vhost, payload_of_4096_bytes_passes_4097_does_not) {
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(0, &front, &back));
  uint8_t *big = malloc(SHMAP_MSG_MAX_PAYLOAD + 1);
  cr_assert_not_null(big);
  test_fill(big, SHMAP_MSG_MAX_PAYLOAD + 1, 5);
  shmap_msg *m = msg_new();
  /* Written from a thread: 4 KiB may exceed a pipe's buffer. */
  struct big_send w = {front, big, -1};
  test_thread *t = test_thread_start(send_big, &w);
  ASSERT_OK(shmap_channel_recv_msg(back, m));
  test_thread_join(t);
  cr_assert_eq(w.rc, 0, "%s", shmap_err_name(w.rc));
  cr_assert_eq(m->known, 0);
  cr_assert_eq(m->hdr.request, SHMAP_REQ_SET_CONFIG);
  cr_assert_eq(m->hdr.size, SHMAP_MSG_MAX_PAYLOAD);
  cr_assert_eq(test_check(m->payload, SHMAP_MSG_MAX_PAYLOAD, 5), (size_t)-1);
  /* One more byte is refused before anything is sent. */
  ASSERT_ERR(shmap_channel_send_msg(front, SHMAP_REQ_SET_CONFIG, 0, big,
                                    SHMAP_MSG_MAX_PAYLOAD + 1, NULL, 0),
             SHMAP_ESIZE);
  cr_assert_eq(test_native_pending(shmap_channel_native(back)), 0);
  /* Nine descriptors too. */
  shmap_native_t nine[9];
  for (int i = 0; i < 9; i++)
    nine[i] = shmap_channel_native(front);
  ASSERT_ERR(
      shmap_channel_send_msg(front, SHMAP_REQ_SET_CONFIG, 0, big, 8, nine, 9),
      SHMAP_EFDCOUNT);
  cr_assert_eq(test_native_pending(shmap_channel_native(back)), 0);
  free(m);
  free(big);
  shmap_channel_close(front);
  shmap_channel_close(back);
}

/* ---- code spaces: the channel decides what a code means ---- */

SHMAP_TEST(vhost, code_9_is_set_vring_addr_or_shmem_map) {
  shmap_mappable *buf;
  ASSERT_OK(shmap_mappable_create(G, 0, &buf));
  shmap_native_t fd = shmap_mappable_native(buf);
  uint8_t p[40];
  memset(p, 0, sizeof p);
  le64(p + 24, G); /* as SHMEM_MAP: len G at offset 0 of window 0 */
  shmap_msg *m = msg_new();

  /* Main socket: front end to back end, 9 is SET_VRING_ADDR (foreign). */
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(0, &front, &back));
  cr_assert_eq(shmap_channel_tx_direction(front), TB);
  cr_assert_eq(shmap_channel_rx_direction(back), TB);
  cr_assert_eq(shmap_channel_rx_direction(front), 0);
  ASSERT_OK(shmap_channel_send_msg(front, 9, 0, p, sizeof p, NULL, 0));
  ASSERT_OK(shmap_channel_recv_msg(back, m));
  cr_assert_eq(m->known, 0, "SET_VRING_ADDR is not decoded");
  cr_assert_eq(m->direction, TB);
  cr_assert_eq(m->hdr.request, SHMAP_REQ_SET_VRING_ADDR);
  cr_assert_str_eq(shmap_wire_request_name_in(m->direction, m->hdr.request),
                   "SET_VRING_ADDR");
  cr_assert_eq(memcmp(m->payload, p, sizeof p), 0);
  /* The back end's serve loop hands it to its callback as well. */
  shmap_window *guest;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &guest));
  shmap_backend *be;
  ASSERT_OK(shmap_backend_create(guest, NULL, &be));
  struct seen seen;
  memset(&seen, 0, sizeof seen);
  shmap_backend_on_foreign(be, on_foreign, &seen);
  ASSERT_OK(shmap_channel_send_msg(front, 9, 0, p, sizeof p, NULL, 0));
  shmap_event ev;
  ASSERT_OK(shmap_backend_serve_one(be, back, &ev));
  cr_assert_eq(ev.foreign, 1);
  cr_assert_eq(seen.n, 1);
  cr_assert_eq(seen.code[0], SHMAP_REQ_SET_VRING_ADDR);
  cr_assert_eq(shmap_window_count(guest), 0);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  shmap_channel_close(front);
  shmap_channel_close(back);

  /* Back-end request socket: back end to front end, 9 is SHMEM_MAP. */
  ASSERT_OK(shmap_channel_pair(SHMAP_CHANNEL_BACKEND_REQ, &front, &back));
  cr_assert_eq(shmap_channel_tx_direction(back), TF);
  cr_assert_eq(shmap_channel_rx_direction(front), TF);
  le64(p + 32, SHMAP_WIRE_MAP_RW);
  ASSERT_OK(shmap_channel_send_msg(back, 9, 0, p, sizeof p, &fd, 1));
  ASSERT_OK(shmap_channel_recv_msg(front, m));
  cr_assert_eq(m->known, 1, "SHMEM_MAP is decoded");
  cr_assert_eq(m->direction, TF);
  cr_assert_eq(m->wire.hdr.request, SHMAP_REQ_SHMEM_MAP);
  cr_assert_eq(m->wire.u.mmap.len, G);
  cr_assert_eq(m->wire.u.mmap.flags, SHMAP_WIRE_MAP_RW);
  cr_assert_eq(m->nfds, 1);
  shmap_msg_release(m);
  /* A SHMEM_MAP without its descriptor is refused by the sender. */
  ASSERT_ERR(shmap_channel_send_msg(back, 9, 0, p, sizeof p, NULL, 0),
             SHMAP_EFDCOUNT);
  cr_assert_eq(test_native_pending(shmap_channel_native(front)), 0);
  shmap_channel_close(front);
  shmap_channel_close(back);
  free(m);
  shmap_mappable_unref(buf);
}

/* Nothing waits on `ch`'s native socket/pipe. */
#define ASSERT_NOTHING_SENT(ch)                                                \
  cr_assert_eq(test_native_pending(shmap_channel_native(ch)), 0,               \
               "something was sent to %s", #ch)

SHMAP_TEST(vhost, calls_wrong_for_the_channel_fail_before_sending) {
  shmap_mappable *buf;
  ASSERT_OK(shmap_mappable_create(G, 0, &buf));
  shmap_window *mine;
  ASSERT_OK(shmap_window_reserve(G, 0, &mine));
  ASSERT_OK(shmap_window_map(mine, 0, buf, 0, G, SHMAP_PROT_RW));
  shmap_region reg = {.guest_address = 0,
                      .size = G,
                      .mappable = buf,
                      .file_offset = 0,
                      .host = shmap_window_base(mine)};
  int ext = 0;
  shmap_channel *front, *back, *rfront, *rback, *other;
  ASSERT_OK(shmap_channel_pair(SHMAP_CHANNEL_INPROCESS, &front, &back));
  ASSERT_OK(shmap_channel_pair(
      SHMAP_CHANNEL_INPROCESS | SHMAP_CHANNEL_BACKEND_REQ, &rfront, &rback));
  /* The back end's requests on the main socket. */
  ASSERT_ERR(shmap_backend_shmem_map(back, 0, buf, 0, 0, G, SHMAP_PROT_RW),
             SHMAP_EPERM);
  ASSERT_ERR(shmap_backend_shmem_map(back, 0, buf, 0, 0, G, SHMAP_PROT_READ),
             SHMAP_EPERM);
  ASSERT_ERR(shmap_backend_shmem_unmap(back, 0, 0, G), SHMAP_EPERM);
  ASSERT_ERR(shmap_backend_external_map(back, 0, 0, G, &ext), SHMAP_EPERM);
  /* ... and from the front end of either. */
  ASSERT_ERR(shmap_backend_shmem_map(front, 0, buf, 0, 0, G, SHMAP_PROT_RW),
             SHMAP_EPERM);
  ASSERT_ERR(shmap_backend_shmem_map(rfront, 0, buf, 0, 0, G, SHMAP_PROT_RW),
             SHMAP_EPERM);
  /* Regions from a back-end role, or on a back-end request socket. */
  ASSERT_ERR(shmap_frontend_add_region(back, &reg), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_add_region(rfront, &reg), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_add_region(rback, &reg), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_set_mem_table(rfront, &reg, 1), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_remove_region(rfront, &reg), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_negotiate(back, 0, 0, NULL), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_negotiate(rfront, 0, 0, NULL), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_open_backend_channel(back, 0, &other), SHMAP_EPERM);
  ASSERT_ERR(shmap_frontend_open_backend_channel(rfront, 0, &other),
             SHMAP_EPERM);
  /* Raw requests from an end that only answers. */
  ASSERT_ERR(
      shmap_channel_send_msg(back, SHMAP_REQ_GET_FEATURES, 0, NULL, 0, NULL, 0),
      SHMAP_EPERM);
  ASSERT_ERR(shmap_channel_send_msg(rfront, 1, 0, NULL, 0, NULL, 0),
             SHMAP_EPERM);
  ASSERT_ERR(
      shmap_channel_call(back, SHMAP_REQ_GET_FEATURES, NULL, 0, NULL, 0, NULL),
      SHMAP_EPERM);
  /* ... and replies from an end that receives no requests. */
  ASSERT_ERR(shmap_channel_send_msg(front, SHMAP_REQ_GET_FEATURES,
                                    SHMAP_WIRE_REPLY, "12345678", 8, NULL, 0),
             SHMAP_EPERM);
  /* No region without the front end's address of it. */
  shmap_region nohost = reg;
  nohost.host = NULL;
  ASSERT_ERR(shmap_frontend_add_region(front, &nohost), SHMAP_EINVAL);
  ASSERT_ERR(shmap_frontend_set_mem_table(front, &nohost, 1), SHMAP_EINVAL);
  ASSERT_NOTHING_SENT(front);
  ASSERT_NOTHING_SENT(back);
  ASSERT_NOTHING_SENT(rfront);
  ASSERT_NOTHING_SENT(rback);
  shmap_channel_close(front);
  shmap_channel_close(back);
  shmap_channel_close(rfront);
  shmap_channel_close(rback);
  shmap_window_release(mine);
  shmap_mappable_unref(buf);
}

/* ---- protocol features: REPLY_ACK and CONFIGURE_MEM_SLOTS ---- */

struct caller {
  struct test_rig *r;
  shmap_region reg;
  volatile int done;
  int rc;
  uint64_t slots;
  int what; /* 0 add, 1 remove, 2 get_max_mem_slots, 3 SET_VRING_NUM */
};

static void call_main(void *arg) {
  struct caller *c = arg;
  switch (c->what) {
  case 0: c->rc = shmap_frontend_add_region(c->r->front, &c->reg); break;
  case 1: c->rc = shmap_frontend_remove_region(c->r->front, &c->reg); break;
  case 2:
    c->rc = shmap_frontend_get_max_mem_slots(c->r->front, &c->slots);
    break;
  default: {
    uint8_t idx[8] = {0};
    c->rc = shmap_channel_call(c->r->front, SHMAP_REQ_SET_VRING_NUM, idx, 8,
                               NULL, 0, NULL);
    break;
  }
  }
  c->done = 1;
}

/* Run a front-end call on a thread; receive its message on the back end
 * into `m`. Returns whether the call had returned within 2 s of the message
 * arriving (without any answer). A call still waiting is then answered,
 * so the test fails instead of hanging. */
static int call_without_answer(struct caller *c, shmap_msg *m) {
  c->done = 0;
  test_thread *t = test_thread_start(call_main, c);
  cr_assert_not_null(t);
  ASSERT_OK(shmap_channel_recv_msg(c->r->back, m));
  for (int i = 0; i < 200 && !c->done; i++)
    test_sleep_ms(10);
  int returned = c->done;
  if (!returned)
    (void)shmap_channel_reply(c->r->back, m->hdr.request, 0);
  test_thread_join(t);
  return returned;
}

SHMAP_TEST(vhost, without_reply_ack_nothing_waits_but_get_max_mem_slots) {
  struct test_rig r;
  ASSERT_OK(test_rig_open(&r, 0));
  shmap_channel_set_protocol_features(r.front,
                                      SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  cr_assert_eq(shmap_channel_protocol_features(r.front),
               SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  cr_assert_eq(shmap_channel_protocol_features(r.back),
               SHMAP_PROTOCOL_SHMAP_DEFAULT);
  shmap_msg *m = msg_new();
  shmap_reply reply;
  shmap_event ev;
  struct caller c = {&r, test_rig_region(&r, 8 * G, 2 * G, 0), 0, -1, 0, 0};
  cr_assert(call_without_answer(&c, m),
            "add_region waited for a reply REPLY_ACK does not promise");
  cr_assert_eq(c.rc, 0, "%s", shmap_err_name(c.rc));
  cr_assert_eq(m->hdr.request, SHMAP_REQ_ADD_MEM_REG);
  cr_assert_eq(m->hdr.flags, SHMAP_WIRE_VERSION, "no NEED_REPLY: flags 0x%x",
               m->hdr.flags);
  cr_assert_eq(m->known, 1);
  cr_assert_eq(m->nfds, 1);
  ASSERT_OK(shmap_backend_apply(r.be, r.back, m, &reply, &ev));
  cr_assert_eq(ev.result, 0);
  cr_assert_eq(reply.due, 0, "nothing to answer without NEED_REPLY");
  cr_assert_eq(shmap_backend_count(r.be), 1);
  /* REM_MEM_REG goes the same way. */
  c.what = 1;
  cr_assert(call_without_answer(&c, m), "remove_region waited");
  cr_assert_eq(c.rc, 0);
  cr_assert_eq(m->hdr.request, SHMAP_REQ_REM_MEM_REG);
  cr_assert_eq(m->hdr.flags, SHMAP_WIRE_VERSION);
  ASSERT_OK(shmap_backend_apply(r.be, r.back, m, &reply, &ev));
  cr_assert_eq(reply.due, 0);
  cr_assert_eq(shmap_backend_count(r.be), 0);
  /* A foreign call too. */
  c.what = 3;
  cr_assert(call_without_answer(&c, m), "shmap_channel_call waited");
  cr_assert_eq(c.rc, 0);
  cr_assert_eq(m->hdr.request, SHMAP_REQ_SET_VRING_NUM);
  cr_assert_eq(m->hdr.flags, SHMAP_WIRE_VERSION);
  /* GET_MAX_MEM_SLOTS is always answered: sent with flags 0x1 (as QEMU
   * does) and waited for. */
  c.what = 2;
  cr_assert(!call_without_answer(&c, m),
            "get_max_mem_slots returned before its answer");
  cr_assert_eq(m->hdr.request, SHMAP_REQ_GET_MAX_MEM_SLOTS);
  cr_assert_eq(m->hdr.flags, SHMAP_WIRE_VERSION);
  /* (call_without_answer answered 0 to let it return.) */
  cr_assert_eq(c.rc, 0);
  cr_assert_eq(c.slots, 0);
  /* Served properly, the answer is the back end's slot count. */
  struct server s = {.be = r.be, .ch = r.back};
  uint64_t slots = 0;
  int rc;
  WITH_SERVER(s, 1, rc = shmap_frontend_get_max_mem_slots(r.front, &slots));
  cr_assert_eq(rc, 0);
  cr_assert_eq(s.ev[0].request, SHMAP_REQ_GET_MAX_MEM_SLOTS);
  cr_assert(slots >= 8, "slots %llu", (unsigned long long)slots);
  ASSERT_NOTHING_SENT(r.front);
  ASSERT_NOTHING_SENT(r.back);
  free(m);
  test_rig_close(&r);
}

SHMAP_TEST(vhost, without_configure_mem_slots_tables_are_sent_whole) {
  struct test_rig r;
  ASSERT_OK(test_rig_open(&r, 0));
  shmap_channel_set_protocol_features(r.front, SHMAP_PROTOCOL_F_REPLY_ACK);
  uint64_t slots;
  ASSERT_ERR(shmap_frontend_get_max_mem_slots(r.front, &slots), SHMAP_ENOTSUP);
  struct server s = {.be = r.be, .ch = r.back};
  shmap_region reg[10];
  for (int i = 0; i < 10; i++)
    reg[i] = test_rig_region(&r, (uint64_t)i * 4 * G, G, (uint64_t)(i % 8) * G);
  int rc[12];
  test_thread *t = test_thread_start(serve_all, &s);
  cr_assert_not_null(t);
  {
    rc[0] = shmap_frontend_add_region(r.front, &reg[0]);
    rc[1] = shmap_frontend_add_region(r.front, &reg[1]);
    rc[2] = shmap_frontend_remove_region(r.front, &reg[0]);
    rc[3] = shmap_frontend_remove_region(r.front, &reg[1]); /* the last */
    for (int i = 2; i < 9; i++)
      rc[i + 2] = shmap_frontend_add_region(r.front, &reg[i]);
    rc[11] = shmap_frontend_add_region(r.front, &reg[9]); /* a ninth */
  }
  shmap_channel_close(r.front); /* the server's end of the loop */
  r.front = NULL;
  test_thread_join(t);
  cr_assert_eq(s.n, 10, "%d messages served, want 10", s.n);
  cr_assert_eq(rc[0], 0);
  cr_assert_eq(rc[1], 0);
  cr_assert_eq(rc[2], 0);
  cr_assert_eq(rc[3], SHMAP_ENOTSUP, "got %s", shmap_err_name(rc[3]));
  for (int i = 4; i < 11; i++)
    cr_assert_eq(rc[i], 0, "add %d: %s", i, shmap_err_name(rc[i]));
  cr_assert_eq(rc[11], SHMAP_ELIMIT, "got %s", shmap_err_name(rc[11]));
  for (int i = 0; i < 10; i++) {
    cr_assert_eq(s.rc[i], 0);
    cr_assert_eq(s.ev[i].request, SHMAP_REQ_SET_MEM_TABLE, "message %d", i);
    cr_assert_eq(s.ev[i].result, 0);
    cr_assert_eq(s.ev[i].flags, SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY);
  }
  /* add 0: {0}; add 1: {0, 1}; remove 0: {1}; then {1, 2}, ... */
  const shmap_wire_msg *t0 = &s.ev[0].msg, *t1 = &s.ev[1].msg,
                       *t2 = &s.ev[2].msg;
  cr_assert_eq(t0->u.mem_table.num_regions, 1);
  cr_assert_eq(t1->u.mem_table.num_regions, 2);
  cr_assert_eq(t2->u.mem_table.num_regions, 1);
  cr_assert_eq(t2->u.mem_table.regions[0].guest_phys_addr, 4 * G);
  cr_assert_eq(t2->u.mem_table.regions[0].userspace_addr,
               (uint64_t)(uintptr_t)test_rig_host(&r, G));
  cr_assert_eq(t2->u.mem_table.regions[0].mmap_offset, G);
  int seen0 = 0, seen1 = 0;
  for (uint32_t i = 0; i < 2; i++) {
    const shmap_wire_region *w = &t1->u.mem_table.regions[i];
    seen0 += w->guest_phys_addr == 0 &&
             w->userspace_addr == (uint64_t)(uintptr_t)test_rig_host(&r, 0);
    seen1 += w->guest_phys_addr == 4 * G &&
             w->userspace_addr == (uint64_t)(uintptr_t)test_rig_host(&r, G);
  }
  cr_assert(seen0 == 1 && seen1 == 1, "the second table holds both regions");
  cr_assert_eq(s.ev[9].msg.u.mem_table.num_regions, 8);
  cr_assert_eq(shmap_backend_count(r.be), 8);
  cr_assert_null(shmap_window_translate(r.guest, 0, 1), "region 0 removed");
  for (int i = 1; i < 9; i++)
    cr_assert_eq(
        memcmp(shmap_window_translate(r.guest, reg[i].guest_address, G),
               reg[i].host, (size_t)G),
        0, "region %d", i);
  /* (s.n == 10 above: nothing beyond the ten tables went out.) */
  test_rig_close(&r);
}

/* ---- REM_MEM_REG repeats ADD_MEM_REG ---- */

SHMAP_TEST(vhost, rem_repeats_add_and_must_match) {
  for (int remfd = 0; remfd < 2; remfd++) {
    struct test_rig r;
    ASSERT_OK(test_rig_open(&r, remfd ? SHMAP_CHANNEL_REM_FD : 0));
    /* No REPLY_ACK: the calls return once sent, the test reads the raw
     * messages on the back end. */
    shmap_channel_set_protocol_features(r.front,
                                        SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
    shmap_msg *add = msg_new(), *rem = msg_new();
    shmap_reply reply;
    shmap_event ev;
    shmap_region reg = test_rig_region(&r, 16 * G, 2 * G, 3 * G);
    ASSERT_OK(shmap_frontend_add_region(r.front, &reg));
    ASSERT_OK(shmap_channel_recv_msg(r.back, add));
    cr_assert_eq(add->hdr.size, 40);
    cr_assert_eq(add->nfds, 1);
    cr_assert_eq(get64(add->payload + 8), 16 * G, "guest_phys_addr");
    cr_assert_eq(get64(add->payload + 16), 2 * G, "memory_size");
    cr_assert_eq(get64(add->payload + 24),
                 (uint64_t)(uintptr_t)test_rig_host(&r, 3 * G),
                 "userspace_addr is the front end's address");
    cr_assert_eq(get64(add->payload + 32), 3 * G, "mmap_offset");
    uint8_t added[40];
    memcpy(added, add->payload, 40);
    ASSERT_OK(shmap_backend_apply(r.be, r.back, add, &reply, &ev));
    cr_assert_eq(ev.result, 0);
    /* Only guest_address and size of the argument are read. */
    shmap_region which = {.guest_address = 16 * G,
                          .size = 2 * G,
                          .mappable = NULL,
                          .file_offset = 0,
                          .host = NULL};
    ASSERT_OK(shmap_frontend_remove_region(r.front, &which));
    ASSERT_OK(shmap_channel_recv_msg(r.back, rem));
    cr_assert_eq(rem->hdr.request, SHMAP_REQ_REM_MEM_REG);
    cr_assert_eq(memcmp(rem->payload, added, 40), 0,
                 "REM_MEM_REG repeats ADD_MEM_REG's bytes");
    cr_assert_eq(rem->nfds, (size_t)remfd, "SHMAP_CHANNEL_REM_FD: %d", remfd);
    if (remfd) {
      cr_assert(test_native_is_open(rem->fds[0]));
      /* The same object as the ADD's: a mappable of the same size. */
      shmap_mappable *same;
      ASSERT_OK(shmap_mappable_adopt(rem->fds[0], &same));
      rem->fds[0] = SHMAP_NATIVE_INVALID;
      cr_assert_eq(shmap_mappable_size(same), 8 * G);
      shmap_mappable_unref(same);
      rem->nfds = 0;
    }
    /* A REM whose userspace_addr differs names another region: refused,
     * the region kept. */
    shmap_msg *bad = rem;
    le64(bad->payload + 24, get64(added + 24) + G);
    bad->wire.u.region.userspace_addr += G;
    ASSERT_OK(shmap_backend_apply(r.be, r.back, bad, &reply, &ev));
    cr_assert_eq(ev.result, SHMAP_ENOENT, "got %s", shmap_err_name(ev.result));
    cr_assert_eq(shmap_backend_count(r.be), 1);
    cr_assert_not_null(shmap_window_translate(r.guest, 16 * G, 2 * G));
    /* The same through the channel, answered. */
    shmap_wire_msg w;
    memset(&w, 0, sizeof w);
    w.hdr.request = SHMAP_REQ_REM_MEM_REG;
    w.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
    w.u.region =
        (shmap_wire_region){16 * G, 2 * G, get64(added + 24) + G, 3 * G};
    ASSERT_OK(shmap_channel_send(r.front, &w, NULL, 0));
    ASSERT_OK(shmap_backend_serve_one(r.be, r.back, &ev));
    cr_assert_eq(ev.result, SHMAP_ENOENT);
    ASSERT_ERR(shmap_channel_recv_reply(r.front, SHMAP_REQ_REM_MEM_REG, NULL),
               SHMAP_ENOENT);
    cr_assert_eq(shmap_backend_count(r.be), 1);
    /* The real REM (as the front end sent it) removes it. */
    w.u.region.userspace_addr = get64(added + 24);
    ASSERT_OK(shmap_channel_send(r.front, &w, NULL, 0));
    ASSERT_OK(shmap_backend_serve_one(r.be, r.back, &ev));
    cr_assert_eq(ev.result, 0);
    ASSERT_OK(shmap_channel_recv_reply(r.front, SHMAP_REQ_REM_MEM_REG, NULL));
    cr_assert_eq(shmap_backend_count(r.be), 0);
    free(add);
    free(rem);
    test_rig_close(&r);
  }
}

/* ---- the back end translates the front end's addresses ---- */

SHMAP_TEST(vhost, translate_uaddr) {
  struct test_rig r;
  ASSERT_OK(test_rig_open(&r, 0));
  struct server s = {.be = r.be, .ch = r.back};
  shmap_region reg = test_rig_region(&r, 16 * G, 4 * G, 2 * G);
  uint64_t u = (uint64_t)(uintptr_t)reg.host, n = reg.size;
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u, 1), "nothing yet");
  int rc;
  WITH_SERVER(s, 1, rc = shmap_frontend_add_region(r.front, &reg));
  cr_assert_eq(rc, 0);
  uint8_t *g = shmap_window_translate(r.guest, 16 * G, 4 * G);
  cr_assert_not_null(g);
  cr_assert_eq(shmap_backend_translate_uaddr(r.be, u, 1), g);
  cr_assert_eq(shmap_backend_translate_uaddr(r.be, u, n), g, "all of it");
  cr_assert_eq(shmap_backend_translate_uaddr(r.be, u + 100, 16), g + 100);
  cr_assert_eq(shmap_backend_translate_uaddr(r.be, u + n - 1, 1), g + n - 1,
               "the last byte");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u + n - 1, 2),
                 "across the end");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u, n + 1));
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u + n, 1), "past it");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u - 1, 1), "before it");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u - 1, 2));
  cr_assert_null(shmap_backend_translate_uaddr(r.be, 0x1000, 1), "unknown");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, 16 * G, 1),
                 "a guest address is not a front-end address");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, UINT64_MAX, 2));
  cr_assert_null(shmap_backend_translate_uaddr(NULL, u, 1));
  /* What the front end writes through its own mapping, the back end reads
   * through the translated pointer, and back. */
  uint8_t *mine = reg.host;
  test_fill(mine + G, 4096, 99);
  uint8_t *p = shmap_backend_translate_uaddr(r.be, u + G, 4096);
  cr_assert_not_null(p);
  cr_assert_eq(test_check(p, 4096, 99), (size_t)-1);
  p[7] = 0x5a;
  cr_assert_eq(mine[G + 7], 0x5a);
  WITH_SERVER(s, 1, rc = shmap_frontend_remove_region(r.front, &reg));
  cr_assert_eq(rc, 0);
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u, 1), "after removal");
  cr_assert_null(shmap_backend_translate_uaddr(r.be, u + G, 4096));
  test_rig_close(&r);
}

/* ---- sans-I/O: the device runs its own loop ---- */

static void front_steps(void *arg) {
  struct test_rig *r = arg;
  uint64_t f = 0;
  shmap_msg *m = msg_new();
  /* Each result is checked by the device loop's view below; here only that
   * every call came back as it should. */
  cr_assert_eq(
      shmap_channel_call(r->front, SHMAP_REQ_GET_FEATURES, NULL, 0, NULL, 0, m),
      0);
  cr_assert_eq(shmap_msg_u64(m, &f), 0);
  cr_assert_eq(f, DEVICE_FEATURES);
  shmap_region reg = test_rig_region(r, 0, 2 * G, G);
  cr_assert_eq(shmap_frontend_add_region(r->front, &reg), 0);
  shmap_native_t kick = test_event_open();
  uint8_t idx[8];
  le64(idx, 3);
  cr_assert_eq(shmap_channel_call(r->front, SHMAP_REQ_SET_VRING_KICK, idx, 8,
                                  &kick, 1, NULL),
               0);
  shmap_native_close(kick);
  uint64_t slots = 0;
  cr_assert_eq(shmap_frontend_get_max_mem_slots(r->front, &slots), 0);
  cr_assert(slots >= 8);
  free(m);
}

SHMAP_TEST(vhost, sans_io_device_loop) {
  struct test_rig r;
  ASSERT_OK(test_rig_open(&r, 0));
  test_thread *t = test_thread_start(front_steps, &r);
  cr_assert_not_null(t);
  shmap_msg *m = msg_new(), *copy = msg_new();
  int handled_by_shmap = 0, handled_by_device = 0;
  for (int i = 0; i < 4; i++) {
    ASSERT_OK(shmap_channel_recv_msg(r.back, m));
    memcpy(copy, m, sizeof *m);
    shmap_reply reply;
    shmap_event ev;
    /* Garbage in: the library fills both whole, their room included. */
    memset(&reply, 0xa5, sizeof reply);
    memset(&ev, 0xa5, sizeof ev);
    int rc = shmap_backend_apply(r.be, r.back, m, &reply, &ev);
    if (rc == SHMAP_EREQUEST) {
      /* Not shmap's: untouched, descriptors still the caller's. */
      cr_assert_eq(memcmp(m, copy, sizeof *m), 0, "message %d changed", i);
      if (m->hdr.request == SHMAP_REQ_SET_VRING_KICK) {
        cr_assert_eq(m->nfds, 1);
        cr_assert(test_native_is_open(m->fds[0]));
        ASSERT_OK(shmap_channel_reply(r.back, m->hdr.request, 0));
      } else {
        cr_assert_eq(m->hdr.request, SHMAP_REQ_GET_FEATURES);
        ASSERT_OK(shmap_channel_reply_u64(r.back, SHMAP_REQ_GET_FEATURES,
                                          DEVICE_FEATURES));
      }
      shmap_msg_release(m);
      handled_by_device++;
      continue;
    }
    cr_assert_eq(rc, 0, "%s", shmap_err_name(rc));
    handled_by_shmap++;
    cr_assert_eq(ev.result, 0);
    cr_assert_eq(ev.foreign, 0);
    cr_assert_eq(m->nfds, 0, "descriptors consumed");
    cr_assert_eq(reply.due, 1);
    cr_assert_eq(reply.request, m->hdr.request);
    for (size_t k = 0; k < sizeof reply.reserved / sizeof reply.reserved[0];
         k++)
      cr_assert_eq(reply.reserved[k], 0, "reply.reserved[%zu]", k);
    for (size_t k = 0; k < sizeof ev.reserved / sizeof ev.reserved[0]; k++)
      cr_assert_eq(ev.reserved[k], 0, "ev.reserved[%zu]", k);
    if (m->hdr.request == SHMAP_REQ_ADD_MEM_REG) {
      cr_assert_eq(ev.request, SHMAP_REQ_ADD_MEM_REG);
      cr_assert_eq(reply.value, 0);
      cr_assert_eq(ev.head, shmap_window_translate(r.guest, 0, 16));
    } else {
      cr_assert_eq(m->hdr.request, SHMAP_REQ_GET_MAX_MEM_SLOTS);
      cr_assert(reply.value >= 8);
    }
    ASSERT_OK(shmap_channel_send_reply(r.back, &reply));
  }
  test_thread_join(t);
  cr_assert_eq(handled_by_shmap, 2);
  cr_assert_eq(handled_by_device, 2);
  cr_assert_eq(shmap_backend_count(r.be), 1);
  cr_assert_eq(memcmp(shmap_window_translate(r.guest, 0, 2 * G),
                      test_rig_host(&r, G), (size_t)(2 * G)),
               0);
  /* A reply not due is not sent. */
  shmap_reply none = {SHMAP_REQ_ADD_MEM_REG, 0, 0, {0}};
  ASSERT_OK(shmap_channel_send_reply(r.back, &none));
  ASSERT_NOTHING_SENT(r.front);
  /* Room that is not zero is refused before anything is sent, due or not. */
  shmap_reply grown = {SHMAP_REQ_GET_MAX_MEM_SLOTS, 1, 8, {0, 1}};
  cr_assert_eq(shmap_channel_send_reply(r.back, &grown), SHMAP_EINVAL);
  cr_assert(strstr(shmap_last_message(), "reserved[1]") != NULL, "%s",
            shmap_last_message());
  ASSERT_NOTHING_SENT(r.front);
  free(m);
  free(copy);
  test_rig_close(&r);
}

/* The front end's side: a device's own loop on the back-end request socket
 * gives SHMEM_MAP to shmap_frontend_apply() and keeps the rest. */
SHMAP_TEST(vhost, sans_io_frontend_apply) {
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(SHMAP_CHANNEL_BACKEND_REQ, &front, &back));
  shmap_frontend *fe;
  ASSERT_OK(shmap_frontend_create(NULL, &fe));
  shmap_window *bar;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &bar));
  ASSERT_OK(shmap_frontend_add_window(fe, 1, bar));
  shmap_mappable *buf;
  ASSERT_OK(shmap_mappable_create(G, 0, &buf));
  shmap_native_t fd = shmap_mappable_native(buf);
  shmap_msg *m = msg_new();
  /* IOTLB_MSG (back-end code 1): not the front end's. */
  uint8_t iotlb[16];
  memset(iotlb, 0, sizeof iotlb);
  ASSERT_OK(shmap_channel_send_msg(back, 1, 0, iotlb, sizeof iotlb, NULL, 0));
  ASSERT_OK(shmap_channel_recv_msg(front, m));
  shmap_reply reply;
  shmap_event ev;
  ASSERT_ERR(shmap_frontend_apply(fe, front, m, &reply, &ev), SHMAP_EREQUEST);
  cr_assert_eq(m->hdr.request, 1);
  cr_assert_str_eq(shmap_wire_request_name_in(m->direction, 1), "IOTLB_MSG");
  /* SHMEM_MAP, sent with NEED_REPLY. */
  uint8_t p[40];
  memset(p, 0, sizeof p);
  p[0] = 1;
  le64(p + 16, G);
  le64(p + 24, G);
  le64(p + 32, SHMAP_WIRE_MAP_RW);
  ASSERT_OK(shmap_channel_send_msg(back, SHMAP_REQ_SHMEM_MAP,
                                   SHMAP_WIRE_NEED_REPLY, p, sizeof p, &fd, 1));
  ASSERT_OK(shmap_channel_recv_msg(front, m));
  ASSERT_OK(shmap_frontend_apply(fe, front, m, &reply, &ev));
  cr_assert_eq(ev.result, 0, "%s", shmap_err_name(ev.result));
  cr_assert_eq(m->nfds, 0);
  cr_assert_eq(reply.due, 1);
  cr_assert_eq(reply.value, 0);
  ASSERT_OK(shmap_channel_send_reply(front, &reply));
  ASSERT_OK(shmap_channel_recv_reply(back, SHMAP_REQ_SHMEM_MAP, NULL));
  cr_assert_eq(shmap_window_count(bar), 1);
  cr_assert_eq(ev.head, shmap_window_translate(bar, G, 16));
  ASSERT_OK(shmap_window_unmap(bar, G, G));
  free(m);
  shmap_mappable_unref(buf);
  shmap_frontend_destroy(fe);
  shmap_window_release(bar);
  shmap_channel_close(front);
  shmap_channel_close(back);
}

/* ---- what the apply and reply calls refuse ---- */

/* A reply is not a request: handed to the sans-I/O apply calls it must be
 * refused with SHMAP_EREQUEST and left alone (region.h: "SHMAP_EREQUEST
 * when it is not one the front end handles"), never applied as some
 * memory request (a reply to ADD_MEM_REG must not reach the front end's
 * EXTERNAL_MAP branch, a reply to SHMEM_MAP the back end's
 * GET_MAX_MEM_SLOTS branch). */
SHMAP_TEST(vhost, apply_refuses_replies) {
  shmap_msg *m = msg_new();
  shmap_reply reply;
  shmap_event ev;
  /* The front end of a main socket gets the reply to its ADD_MEM_REG. */
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(SHMAP_CHANNEL_INPROCESS, &front, &back));
  shmap_frontend *fe;
  ASSERT_OK(shmap_frontend_create(NULL, &fe));
  shmap_window *bar;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &bar));
  ASSERT_OK(shmap_frontend_add_window(fe, 0, bar));
  ASSERT_OK(shmap_channel_reply(back, SHMAP_REQ_ADD_MEM_REG, 0));
  ASSERT_OK(shmap_channel_recv_msg(front, m));
  cr_assert_eq(m->known, 1);
  cr_assert(m->hdr.flags & SHMAP_WIRE_REPLY);
  int rc = shmap_frontend_apply(fe, front, m, &reply, &ev);
  cr_assert_eq(shmap_window_count(bar), 0, "a reply mapped something");
  cr_assert_eq(rc, SHMAP_EREQUEST,
               "frontend_apply of an ADD_MEM_REG reply: got %s (result %s)",
               shmap_err_name(rc), shmap_err_name(ev.result));
  shmap_frontend_destroy(fe);
  shmap_window_release(bar);
  shmap_channel_close(front);
  shmap_channel_close(back);
  /* The back end of a request socket gets the reply to its SHMEM_MAP. */
  ASSERT_OK(shmap_channel_pair(SHMAP_CHANNEL_BACKEND_REQ, &front, &back));
  shmap_window *guest;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &guest));
  shmap_backend *be;
  ASSERT_OK(shmap_backend_create(guest, NULL, &be));
  ASSERT_OK(shmap_channel_reply(front, SHMAP_REQ_SHMEM_MAP, 0));
  ASSERT_OK(shmap_channel_recv_msg(back, m));
  cr_assert_eq(m->known, 1);
  rc = shmap_backend_apply(be, back, m, &reply, &ev);
  cr_assert_eq(rc, SHMAP_EREQUEST,
               "backend_apply of a SHMEM_MAP reply: got %s (reply due %d, "
               "value %llu)",
               shmap_err_name(rc), reply.due, (unsigned long long)reply.value);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  shmap_channel_close(front);
  shmap_channel_close(back);
  free(m);
}

/* shmap_channel_reply() / _reply_u64() / send_reply() make the role check
 * shmap_channel_send() and send_msg() make: the front end of a main socket
 * receives no requests, so it has nothing to answer, and its reply is
 * refused with SHMAP_EPERM before anything is sent. */
SHMAP_TEST(vhost, reply_from_an_end_that_answers_nothing) {
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(0, &front, &back));
  int rc = shmap_channel_reply(front, SHMAP_REQ_SHMEM_MAP, 0);
  int pending = test_native_pending(shmap_channel_native(back));
  shmap_channel_close(front);
  shmap_channel_close(back);
  cr_assert_eq(rc, SHMAP_EPERM, "got %s", shmap_err_name(rc));
  cr_assert_eq(pending, 0, "a reply went out");
}
