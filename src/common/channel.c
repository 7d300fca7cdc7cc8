/* shmap — the portable half of channels: framing, encoding before send,
 * validation after receive, the rules of the channel's role and kind, and
 * the ownership of every received descriptor. The OS layer moves bytes and
 * descriptors only. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The largest frame: header plus the largest payload of any message. */
#define FRAME_MAX SHMAP_MSG_MAX_FRAME

static int valid_role(unsigned role) {
  return role == SHMAP_ROLE_FRONTEND || role == SHMAP_ROLE_BACKEND;
}

static int wrap(shmap__chan_os *os, unsigned role, unsigned flags,
                shmap_channel **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "channel: NULL out");
  shmap_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL)
    return shmap__err(SHMAP_ENOMEM, "channel: out of memory");
  ch->os = *os;
  ch->role = role;
  ch->flags = flags;
  ch->in_sync = 1;
  ch->proto = SHMAP_PROTOCOL_SHMAP_DEFAULT;
  /* Front-end requests go out on the main socket, back-end requests on the
   * back-end request socket; the other end receives them. */
  int space = flags & SHMAP_CHANNEL_BACKEND_REQ ? SHMAP_WIRE_TO_FRONTEND
                                                : SHMAP_WIRE_TO_BACKEND;
  int sends = (role == SHMAP_ROLE_FRONTEND) == (space == SHMAP_WIRE_TO_BACKEND);
  ch->tx = sends ? space : 0;
  ch->rx = sends ? 0 : space;
  if (flags & SHMAP_CHANNEL_SAME_USER) {
    int rc = shmap__os_peer_check(&ch->os);
    if (rc != 0) {
      free(ch);
      return rc;
    }
  }
  *out = ch;
  return 0;
}

static int check_args(const char *what, unsigned role, unsigned flags,
                      const void *out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL out", what);
  if (!valid_role(role))
    return shmap__err(SHMAP_EINVAL,
                      "%s: role %u is neither front end nor "
                      "back end",
                      what, role);
  if (flags & ~(unsigned)(SHMAP_CHANNEL_INPROCESS | SHMAP_CHANNEL_SAME_USER |
                          SHMAP_CHANNEL_BACKEND_REQ | SHMAP_CHANNEL_REM_FD))
    return shmap__err(SHMAP_EINVAL, "%s: unknown flags 0x%x", what, flags);
  return 0;
}

int shmap_listener_open(const char *addr, shmap_listener **out) {
  if (out == NULL || addr == NULL)
    return shmap__err(SHMAP_EINVAL, "listen: NULL argument");
  shmap_listener *l = calloc(1, sizeof *l);
  if (l == NULL)
    return shmap__err(SHMAP_ENOMEM, "listen: out of memory");
  int rc = shmap__os_listen(addr, &l->os);
  if (rc != 0) {
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int shmap_listener_accept(shmap_listener *l, unsigned role, unsigned flags,
                          shmap_channel **out) {
  int rc = check_args("accept", role, flags, out);
  if (rc == 0 && l == NULL)
    rc = shmap__err(SHMAP_EINVAL, "accept: NULL listener");
  if (rc != 0)
    return rc;
  shmap__chan_os os;
  rc = shmap__os_accept(&l->os, &os);
  if (rc == 0 && (rc = wrap(&os, role, flags, out)) != 0)
    shmap__os_chan_close(&os);
  return rc;
}

void shmap_listener_close(shmap_listener *l) {
  if (l == NULL)
    return;
  shmap__os_listener_close(&l->os);
  free(l);
}

int shmap_channel_connect(const char *addr, unsigned role, unsigned flags,
                          shmap_channel **out) {
  int rc = check_args("connect", role, flags, out);
  if (rc != 0)
    return rc;
  shmap__chan_os os;
  rc = shmap__os_connect(addr, &os);
  if (rc == 0 && (rc = wrap(&os, role, flags, out)) != 0)
    shmap__os_chan_close(&os);
  return rc;
}

int shmap_channel_adopt(shmap_native_t conn, unsigned role, unsigned flags,
                        shmap_channel **out) {
  int rc = check_args("channel adopt", role, flags, out);
  if (rc != 0)
    return rc;
  shmap__chan_os os;
  rc = shmap__os_adopt(conn, &os);
  if (rc == 0)
    rc = wrap(&os, role, flags, out);
  return rc; /* on failure the caller still owns conn */
}

int shmap_channel_pair(unsigned flags, shmap_channel **front,
                       shmap_channel **back) {
  int rc = check_args("channel pair", SHMAP_ROLE_FRONTEND, flags, front);
  if (rc == 0 && back == NULL)
    rc = shmap__err(SHMAP_EINVAL, "channel pair: NULL out");
  if (rc != 0)
    return rc;
  shmap__chan_os a, b;
  rc = shmap__os_pair(&a, &b);
  if (rc != 0)
    return rc;
  if ((rc = wrap(&a, SHMAP_ROLE_FRONTEND, flags, front)) != 0) {
    shmap__os_chan_close(&a);
    shmap__os_chan_close(&b);
    return rc;
  }
  if ((rc = wrap(&b, SHMAP_ROLE_BACKEND, flags, back)) != 0) {
    shmap_channel_close(*front);
    shmap__os_chan_close(&b);
  }
  return rc;
}

void shmap_channel_close(shmap_channel *ch) {
  if (ch == NULL)
    return;
  shmap__shared_clear(ch);
  /* A message half read on a non-blocking socket: what it brought. */
  for (size_t i = 0; i < ch->rx_nfds; i++)
    shmap_native_close(ch->rx_fds[i]);
  shmap__os_chan_close(&ch->os);
  free(ch);
}

void shmap_channel_set_protocol_features(shmap_channel *ch, uint64_t features) {
  if (ch != NULL)
    ch->proto = features;
}

uint64_t shmap_channel_protocol_features(const shmap_channel *ch) {
  return ch != NULL ? ch->proto : 0;
}

int shmap_channel_rx_direction(const shmap_channel *ch) {
  return ch != NULL ? ch->rx : 0;
}

int shmap_channel_tx_direction(const shmap_channel *ch) {
  return ch != NULL ? ch->tx : 0;
}

unsigned shmap_channel_role(const shmap_channel *ch) {
  return ch != NULL ? ch->role : 0;
}

unsigned shmap_channel_flags(const shmap_channel *ch) {
  return ch != NULL ? ch->flags : 0;
}

shmap_native_t shmap_channel_native(const shmap_channel *ch) {
  return ch != NULL ? shmap__os_chan_native(&ch->os) : SHMAP_NATIVE_INVALID;
}

const shmap_wire_header *shmap_channel_last_header(const shmap_channel *ch) {
  return ch != NULL ? &ch->last : NULL;
}

int shmap_channel_in_sync(const shmap_channel *ch) {
  return ch != NULL && ch->in_sync;
}

int shmap_channel_set_timeout(shmap_channel *ch, int ms) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel set_timeout: NULL channel");
  if (ms < 0)
    ms = 0;
  if (ms > 0 && !shmap__os_chan_timeouts())
    return shmap__err(SHMAP_ENOTSUP,
                      "channel set_timeout: this platform's channels take "
                      "no timeout");
  ch->timeout_ms = ms;
  return 0;
}

int shmap_channel_timeout(const shmap_channel *ch) {
  return ch != NULL ? ch->timeout_ms : 0;
}

/* Every send goes through here: past the channel's timeout the peer may
 * hold part of a message, so the stream is no longer in sync. */
static int chan_send(shmap_channel *ch, const uint8_t *buf, size_t len,
                     const shmap_native_t *fds, size_t nfds) {
  int rc = shmap__os_chan_send(&ch->os, buf, len, fds, nfds, ch->timeout_ms);
  if (rc == SHMAP_ETIMEDOUT)
    ch->in_sync = 0;
  return rc;
}

int shmap__chan_header(shmap_channel *ch, const uint8_t *buf, size_t *payload) {
  /* Record the raw fields first so a caller can tell which request failed. */
  ch->last.request = shmap__le32(buf);
  ch->last.flags = shmap__le32(buf + 4);
  ch->last.size = shmap__le32(buf + 8);
  int rc = shmap__wire_header_check(&ch->last, ch->rx, ch->tx);
  if (rc != 0)
    return rc;
  *payload = ch->last.size;
  return 0;
}

/* The space a message's code belongs to: a request is in the space this end
 * receives, a reply answers one this end sent. */
static int space_of(const shmap_channel *ch, uint32_t flags) {
  return flags & SHMAP_WIRE_REPLY ? ch->tx : ch->rx;
}

/* May this end send request `code` (or, with `reply`, answer it)? A memory
 * request of the other direction, or any request on an end that only
 * answers, is refused before anything goes out. */
static int check_outbound(const shmap_channel *ch, uint32_t code, int reply) {
  int space = reply ? ch->rx : ch->tx;
  if (space != 0)
    return 0;
  const char *end = ch->role == SHMAP_ROLE_FRONTEND ? "front end" : "back end";
  const char *kind = ch->flags & SHMAP_CHANNEL_BACKEND_REQ
                         ? "back-end request socket"
                         : "main socket";
  return shmap__err(SHMAP_EPERM,
                    reply ? "channel: the %s of a %s receives no requests, so "
                            "it cannot answer request %" PRIu32
                          : "channel: the %s of a %s sends no requests "
                            "(request %" PRIu32 ")",
                    end, kind, code);
}

SHMAP__FLATTEN int shmap_channel_send(shmap_channel *ch,
                                      const shmap_wire_msg *msg,
                                      const shmap_native_t *fds, size_t nfds) {
  if (ch == NULL || msg == NULL || (nfds > 0 && fds == NULL))
    return shmap__err(SHMAP_EINVAL, "channel send: NULL argument");
  int reply = (msg->hdr.flags & SHMAP_WIRE_REPLY) != 0;
  int rc = check_outbound(ch, msg->hdr.request, reply);
  if (rc != 0)
    return rc;
  if ((rc = shmap_wire_check_fds(msg, nfds)) != 0)
    return rc;
  uint8_t buf[SHMAP_WIRE_MAX_MESSAGE];
  size_t len;
  rc = shmap__wire_encode_in(reply ? ch->rx : ch->tx, msg, buf, sizeof buf,
                             &len);
  if (rc != 0)
    return rc;
  return chan_send(ch, buf, len, fds, nfds);
}

static void close_fds(shmap_native_t *fds, size_t *nfds) {
  for (size_t i = 0; i < *nfds; i++) {
    shmap_native_close(fds[i]);
    fds[i] = SHMAP_NATIVE_INVALID;
  }
  *nfds = 0;
}

int shmap__chan_recv(shmap_channel *ch, uint8_t *buf, shmap_wire_msg *wire,
                     shmap_native_t *fds, size_t *nfds, int *known) {
  *nfds = 0;
  *known = 0;
  memset(&ch->last, 0, sizeof ch->last);
  size_t len = 0;
  int rc = shmap__os_chan_recv_frame(ch, buf, FRAME_MAX, &len, fds, nfds);
  if (rc != 0) {
    /* Framing errors and timeouts leave the stream somewhere inside a
     * message. SHMAP_EAGAIN is at a boundary (nothing read) or resumable
     * (the OS layer kept the part read, descriptors included, in the
     * channel: *nfds is 0 here). */
    ch->in_sync = rc == SHMAP_EAGAIN;
    close_fds(fds, nfds);
    return rc;
  }
  ch->in_sync = 1;
  int space = space_of(ch, ch->last.flags);
  if (!shmap__wire_decoded(space, ch->last.request))
    return 0; /* foreign: the caller's, whole */
  *known = 1;
  rc = shmap__wire_decode_in(space, &ch->last, buf + SHMAP_WIRE_HEADER_SIZE,
                             len - SHMAP_WIRE_HEADER_SIZE, wire);
  if (rc == 0)
    rc = shmap_wire_check_fds(wire, *nfds);
  if (rc != 0)
    close_fds(fds, nfds);
  return rc;
}

SHMAP__FLATTEN int shmap_channel_recv(shmap_channel *ch, shmap_wire_msg *msg,
                                      shmap_native_t *fds, size_t *nfds) {
  if (ch == NULL || msg == NULL || fds == NULL || nfds == NULL)
    return shmap__err(SHMAP_EINVAL, "channel recv: NULL argument");
  uint8_t *buf = ch->rxbuf;
  int known;
  int rc = shmap__chan_recv(ch, buf, msg, fds, nfds, &known);
  if (rc == 0 && !known) {
    close_fds(fds, nfds);
    msg->hdr = ch->last;
    memset(&msg->u, 0, sizeof msg->u);
    rc = shmap__err(SHMAP_EREQUEST,
                    "channel recv: %s%s (request %" PRIu32
                    ") is not a message shmap decodes "
                    "(shmap_channel_recv_msg() takes any)",
                    shmap_wire_request_name_in(space_of(ch, ch->last.flags),
                                               ch->last.request),
                    ch->last.flags & SHMAP_WIRE_REPLY ? " reply" : "",
                    ch->last.request);
  }
  return rc;
}

void shmap_msg_release(shmap_msg *m) {
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->nfds && i < SHMAP_WIRE_MAX_FDS; i++)
    if (m->fds[i] != SHMAP_NATIVE_INVALID) {
      shmap_native_close(m->fds[i]);
      m->fds[i] = SHMAP_NATIVE_INVALID;
    }
  m->nfds = 0;
}

int shmap_msg_u64(const shmap_msg *m, uint64_t *value) {
  if (m == NULL || value == NULL)
    return shmap__err(SHMAP_EINVAL, "msg u64: NULL argument");
  if (m->hdr.size != 8)
    return shmap__err(SHMAP_ESIZE, "%s%s: %" PRIu32 " payload bytes, not 8",
                      shmap_wire_request_name_in(m->direction, m->hdr.request),
                      m->hdr.flags & SHMAP_WIRE_REPLY ? " reply" : "",
                      m->hdr.size);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | m->payload[i];
  *value = v;
  return 0;
}

int shmap_channel_recv_msg(shmap_channel *ch, shmap_msg *m) {
  if (ch == NULL || m == NULL)
    return shmap__err(SHMAP_EINVAL, "channel recv_msg: NULL argument");
  uint8_t *buf = ch->rxbuf;
  int known;
  m->nfds = 0;
  int rc = shmap__chan_recv(ch, buf, &m->wire, m->fds, &m->nfds, &known);
  m->hdr = ch->last;
  m->direction = space_of(ch, ch->last.flags);
  m->known = known;
  memset(m->reserved, 0, sizeof m->reserved);
  if (rc == 0)
    memcpy(m->payload, buf + SHMAP_WIRE_HEADER_SIZE, m->hdr.size);
  return rc;
}

int shmap_channel_send_msg(shmap_channel *ch, uint32_t request, uint32_t flags,
                           const void *payload, size_t size,
                           const shmap_native_t *fds, size_t nfds) {
  if (ch == NULL || (size > 0 && payload == NULL) || (nfds > 0 && fds == NULL))
    return shmap__err(SHMAP_EINVAL, "channel send_msg: NULL argument");
  if (size > SHMAP_MSG_MAX_PAYLOAD)
    return shmap__err(SHMAP_ESIZE,
                      "channel send_msg: %zu payload bytes (at most %d)", size,
                      SHMAP_MSG_MAX_PAYLOAD);
  if (nfds > SHMAP_WIRE_MAX_FDS)
    return shmap__err(SHMAP_EFDCOUNT,
                      "channel send_msg: %zu descriptors (at most %d)", nfds,
                      SHMAP_WIRE_MAX_FDS);
  flags |= SHMAP_WIRE_VERSION;
  int reply = (flags & SHMAP_WIRE_REPLY) != 0;
  int rc = check_outbound(ch, request, reply);
  if (rc != 0)
    return rc;
  uint8_t buf[FRAME_MAX];
  shmap__wire_frame(buf, request, flags, payload, (uint32_t)size);
  /* A memory message goes out only if its receiver would take it. */
  int space = reply ? ch->rx : ch->tx;
  shmap_wire_header h = {request, flags, (uint32_t)size};
  if ((rc = shmap__wire_header_check(&h, space, space)) != 0)
    return rc;
  if (shmap__wire_decoded(space, request)) {
    shmap_wire_msg m;
    rc = shmap__wire_decode_in(space, &h, buf + SHMAP_WIRE_HEADER_SIZE, size,
                               &m);
    if (rc == 0 && !reply)
      rc = shmap_wire_check_fds(&m, nfds);
    if (rc == 0 && reply && nfds > 0)
      rc = shmap__err(SHMAP_EFDCOUNT,
                      "channel send_msg: a reply to %s "
                      "carries no descriptors",
                      shmap_wire_request_name_in(space, request));
    if (rc != 0)
      return rc;
  }
  return chan_send(ch, buf, SHMAP_WIRE_HEADER_SIZE + size, fds, nfds);
}

/* A reply straight to bytes: replies are the most frequent message and
 * have one form, so the generic encoder and its check would only copy. */
int shmap__send_reply(shmap_channel *ch, uint32_t request, uint64_t value) {
  uint8_t buf[SHMAP__REPLY_BYTES];
  shmap__wire_reply_bytes(buf, request, value);
  return chan_send(ch, buf, sizeof buf, NULL, 0);
}

SHMAP__FLATTEN int shmap_channel_reply(shmap_channel *ch, uint32_t request,
                                       int result) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel reply: NULL channel");
  int rc = check_outbound(ch, request, 1);
  return rc != 0
             ? rc
             : shmap__send_reply(ch, request, shmap_wire_reply_value(result));
}

int shmap_channel_reply_u64(shmap_channel *ch, uint32_t request,
                            uint64_t value) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel reply: NULL channel");
  int rc = check_outbound(ch, request, 1);
  return rc != 0 ? rc : shmap__send_reply(ch, request, value);
}

int shmap_channel_send_reply(shmap_channel *ch, const shmap_reply *r) {
  if (ch == NULL || r == NULL)
    return shmap__err(SHMAP_EINVAL, "channel send_reply: NULL argument");
  for (size_t i = 0; i < sizeof r->reserved / sizeof r->reserved[0]; i++)
    if (r->reserved[i] != 0)
      return shmap__err(SHMAP_EINVAL,
                        "channel send_reply: reserved[%zu] is not zero "
                        "(zero the reply, e.g. with an initialiser)",
                        i);
  return r->due ? shmap_channel_reply_u64(ch, r->request, r->value) : 0;
}

SHMAP__FLATTEN int shmap_channel_recv_reply(shmap_channel *ch, uint32_t request,
                                            uint64_t *value) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel recv_reply: NULL channel");
  shmap_wire_msg reply;
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t n = 0;
  uint8_t *buf = ch->rxbuf;
  int known;
  /* A reply is a header and one u64: a stream transport reads it whole. */
  ch->expect = SHMAP_WIRE_HEADER_SIZE + 8;
  int rc = shmap__chan_recv(ch, buf, &reply, fds, &n, &known);
  ch->expect = 0;
  if (rc != 0)
    return rc;
  if (!known)
    close_fds(fds, &n);
  if (!known || !(ch->last.flags & SHMAP_WIRE_REPLY) ||
      ch->last.request != request)
    return shmap__err(SHMAP_EPROTO, "expected the reply to %s, got %s%s",
                      shmap_wire_request_name_in(ch->tx, request),
                      shmap_wire_request_name_in(space_of(ch, ch->last.flags),
                                                 ch->last.request),
                      ch->last.flags & SHMAP_WIRE_REPLY ? " reply" : "");
  if (value != NULL) {
    *value = reply.u.u64;
    return 0;
  }
  rc = shmap_wire_reply_result(reply.u.u64);
  if (rc != 0)
    return shmap__err(rc, "peer refused %s: %s (replied 0x%" PRIx64 ")",
                      shmap_wire_request_name_in(ch->tx, request),
                      shmap_strerror(rc), reply.u.u64);
  return 0;
}

int shmap_channel_call(shmap_channel *ch, uint32_t request, const void *payload,
                       size_t size, const shmap_native_t *fds, size_t nfds,
                       shmap_msg *reply) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel call: NULL channel");
  int answered = shmap_wire_always_answered(ch->tx, request);
  uint32_t flags = 0;
  if (!answered && (ch->proto & SHMAP_PROTOCOL_F_REPLY_ACK))
    flags |= SHMAP_WIRE_NEED_REPLY;
  if (reply != NULL) {
    memset(&reply->hdr, 0, sizeof reply->hdr);
    reply->nfds = 0;
    reply->known = 0;
  }
  int rc = shmap_channel_send_msg(ch, request, flags, payload, size, fds, nfds);
  if (rc != 0 || (!answered && !(flags & SHMAP_WIRE_NEED_REPLY)))
    return rc;
  shmap_msg local;
  shmap_msg *r = reply != NULL ? reply : &local;
  if ((rc = shmap_channel_recv_msg(ch, r)) != 0)
    return rc;
  if (!(r->hdr.flags & SHMAP_WIRE_REPLY) || r->hdr.request != request) {
    shmap_msg_release(r);
    return shmap__err(SHMAP_EPROTO, "expected the reply to %s, got %s%s",
                      shmap_wire_request_name_in(ch->tx, request),
                      shmap_wire_request_name_in(r->direction, r->hdr.request),
                      r->hdr.flags & SHMAP_WIRE_REPLY ? " reply" : "");
  }
  if (reply != NULL && answered)
    return 0; /* the answer is the caller's to read */
  uint64_t v = 0;
  rc = shmap_msg_u64(r, &v);
  /* A failed call leaves the caller nothing to release: descriptors that
   * came with a malformed or refusing answer are closed here. */
  if (reply == NULL || rc != 0 || (!answered && v != 0))
    shmap_msg_release(r);
  if (rc != 0)
    return rc;
  if (!answered && v != 0) {
    rc = shmap_wire_reply_result(v);
    return shmap__err(rc, "peer refused %s: replied 0x%" PRIx64,
                      shmap_wire_request_name_in(ch->tx, request), v);
  }
  return 0;
}

int shmap__apply_msg(shmap_channel *ch, shmap_msg *m, shmap_reply *reply,
                     shmap_event *ev, shmap__apply_fn apply, void *ctx) {
  shmap__outcome out = {0, NULL};
  /* A reply answers a request; there is nothing in it to apply. */
  int rc = m->hdr.flags & SHMAP_WIRE_REPLY
               ? SHMAP__NOT_MINE
               : apply(ctx, ch, &m->wire, m->known, m, m->fds, m->nfds, &out);
  if (rc == SHMAP__NOT_MINE)
    return shmap__err(SHMAP_EREQUEST,
                      "%s (request %" PRIu32 ") is not one "
                      "this endpoint handles",
                      shmap_wire_request_name_in(m->direction, m->hdr.request),
                      m->hdr.request);
  m->nfds = 0; /* consumed */
  if (ev != NULL) {
    ev->request = m->hdr.request;
    ev->direction = m->direction;
    ev->flags = m->hdr.flags;
    ev->foreign = 0;
    ev->result = rc;
    ev->head = out.head;
    ev->msg = m->wire;
    if (!m->known) /* the decoded form is empty: keep the header */
      ev->msg.hdr = m->hdr;
    memset(ev->reserved, 0, sizeof ev->reserved);
  }
  if (reply != NULL) {
    memset(reply->reserved, 0, sizeof reply->reserved);
    reply->request = m->hdr.request;
    reply->due = (m->hdr.flags & SHMAP_WIRE_NEED_REPLY) ||
                 shmap_wire_always_answered(m->direction, m->hdr.request);
    reply->value = rc != 0 ? shmap_wire_reply_value(rc) : out.value;
  }
  return 0;
}

/* A message nobody handles: closed, and refused when an answer is due.
 * The refusal is a failure value in place of the answer; for a GET_* whose
 * answer is data (GET_FEATURES...) vhost-user has no refusal, so a peer
 * sees a nonsense value: an endpoint that meets a real peer answers the
 * handshake (shmap_backend_answer_handshake()) or takes foreign messages
 * (the callback). */
static int refuse(shmap_channel *ch, shmap_msg *m, shmap_event *ev) {
  shmap_msg_release(m);
  ev->result = shmap__err(
      SHMAP_EREQUEST, "%s%s (request %" PRIu32 ") is not handled here",
      shmap_wire_request_name_in(m->direction, m->hdr.request),
      m->hdr.flags & SHMAP_WIRE_REPLY ? " reply" : "", m->hdr.request);
  if (m->hdr.flags & SHMAP_WIRE_REPLY)
    return 0;
  if (!(m->hdr.flags & SHMAP_WIRE_NEED_REPLY) &&
      !shmap_wire_always_answered(m->direction, m->hdr.request))
    return 0;
  return shmap__send_reply(ch, m->hdr.request,
                           shmap_wire_reply_value(SHMAP_EREQUEST));
}

/* The rare path of serve_one: a message the endpoint does not decode. Its
 * bytes go into a whole shmap_msg (4.5 KiB, kept out of the hot frame). */
SHMAP__NOINLINE static int
serve_foreign(shmap_channel *ch, shmap_event *ev, const uint8_t *buf,
              shmap_native_t *fds, size_t nfds, shmap__apply_fn apply,
              void *ctx, shmap_foreign_fn foreign, void *foreign_ctx) {
  shmap_msg *m = malloc(sizeof *m);
  if (m == NULL) {
    close_fds(fds, &nfds);
    return shmap__err(SHMAP_ENOMEM, "serve: out of memory for a message");
  }
  m->hdr = ch->last;
  m->direction = ev->direction;
  m->known = 0;
  m->nfds = nfds;
  memcpy(m->fds, fds, nfds * sizeof *fds);
  memset(&m->wire, 0, sizeof m->wire);
  memset(m->reserved, 0, sizeof m->reserved);
  memcpy(m->payload, buf + SHMAP_WIRE_HEADER_SIZE, m->hdr.size);
  shmap_reply reply = {0};
  int rc;
  if (shmap__apply_msg(ch, m, &reply, ev, apply, ctx) == 0) {
    rc = shmap_channel_send_reply(ch, &reply); /* the endpoint's handshake */
  } else if (foreign != NULL) {
    ev->foreign = 1;
    ev->result = 0;
    rc = foreign(foreign_ctx, ch, m); /* owns m's descriptors now */
  } else {
    ev->foreign = 1;
    rc = refuse(ch, m, ev);
  }
  free(m);
  return rc;
}

int shmap__serve_one(shmap_channel *ch, shmap_event *ev, shmap__apply_fn apply,
                     void *ctx, shmap_foreign_fn foreign, void *foreign_ctx) {
  shmap_event local;
  if (ev == NULL)
    ev = &local;
  /* Field by field: a decode fills ev->msg itself (and zeroes its union
   * when it fails), and clearing the whole event cost more than the rest
   * of a small request's checks. */
  ev->result = 0;
  ev->head = NULL;
  ev->foreign = 0;
  ev->msg.hdr.request = 0;
  memset(ev->reserved, 0, sizeof ev->reserved);
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t nfds = 0;
  uint8_t *buf = ch->rxbuf;
  int known;
  int rc = shmap__chan_recv(ch, buf, &ev->msg, fds, &nfds, &known);
  const shmap_wire_header *h = &ch->last;
  ev->request = h->request;
  ev->flags = h->flags;
  ev->direction = space_of(ch, h->flags);
  if (rc != 0 && ev->msg.hdr.request == 0)
    memset(&ev->msg, 0, sizeof ev->msg); /* the decoder never ran */
  if (rc != 0 && !shmap_channel_in_sync(ch))
    return rc; /* framing or transport: the connection is done */
  if (rc == SHMAP_EAGAIN) {
    ev->result = rc;
    return rc; /* non-blocking: nothing (more) to read yet */
  }
  if (rc == 0 && !known) {
    memset(&ev->msg, 0, sizeof ev->msg);
    ev->msg.hdr = *h;
    return serve_foreign(ch, ev, buf, fds, nfds, apply, ctx, foreign,
                         foreign_ctx);
  }
  if (rc == 0 && (h->flags & SHMAP_WIRE_REPLY)) {
    /* Nothing to answer: a reply is not a request. */
    ev->result =
        shmap__err(SHMAP_EPROTO, "unexpected reply to %s",
                   shmap_wire_request_name_in(ev->direction, h->request));
    return 0;
  }
  shmap__outcome out = {0, NULL};
  if (rc == 0)
    rc = apply(ctx, ch, &ev->msg, 1, NULL, fds, nfds, &out);
  ev->result = rc;
  ev->head = out.head;
  if (!(h->flags & SHMAP_WIRE_NEED_REPLY) &&
      !shmap_wire_always_answered(ev->direction, h->request))
    return 0;
  return shmap__send_reply(ch, h->request,
                           rc != 0 ? shmap_wire_reply_value(rc) : out.value);
}
