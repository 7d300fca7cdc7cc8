/* shmap — the portable half of channels: encoding before send, validation
 * after receive, and the ownership of every received descriptor. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The largest frame: header plus the largest payload (SET_MEM_TABLE with
 * eight regions). */
#define FRAME_MAX SHMAP_WIRE_MAX_MESSAGE

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
  if (flags & ~(unsigned)(SHMAP_CHANNEL_INPROCESS | SHMAP_CHANNEL_SAME_USER))
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
  shmap__os_chan_close(&ch->os);
  free(ch);
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

/* Direction of the messages this end receives. */
static int inbound(const shmap_channel *ch) {
  return ch->role == SHMAP_ROLE_FRONTEND ? SHMAP_WIRE_TO_FRONTEND
                                         : SHMAP_WIRE_TO_BACKEND;
}

int shmap__chan_header(shmap_channel *ch, const uint8_t *buf, size_t *payload) {
  /* Record the raw fields first so a caller can tell which request failed. */
  ch->last.request = shmap__le32(buf);
  ch->last.flags = shmap__le32(buf + 4);
  ch->last.size = shmap__le32(buf + 8);
  int rc = shmap__wire_header_check(&ch->last, inbound(ch));
  if (rc != 0)
    return rc;
  *payload = ch->last.size;
  return 0;
}

SHMAP__FLATTEN int shmap_channel_send(shmap_channel *ch,
                                      const shmap_wire_msg *msg,
                                      const shmap_native_t *fds, size_t nfds) {
  if (ch == NULL || msg == NULL || (nfds > 0 && fds == NULL))
    return shmap__err(SHMAP_EINVAL, "channel send: NULL argument");
  int rc = shmap_wire_check_fds(msg, nfds);
  if (rc != 0)
    return rc;
  uint8_t buf[FRAME_MAX];
  size_t len;
  rc = shmap_wire_encode(msg, buf, sizeof buf, &len);
  if (rc != 0)
    return rc;
  return shmap__os_chan_send(&ch->os, buf, len, fds, nfds);
}

static void close_fds(shmap_native_t *fds, size_t *nfds) {
  for (size_t i = 0; i < *nfds; i++) {
    shmap_native_close(fds[i]);
    fds[i] = SHMAP_NATIVE_INVALID;
  }
  *nfds = 0;
}

SHMAP__FLATTEN int shmap_channel_recv(shmap_channel *ch, shmap_wire_msg *msg,
                                      shmap_native_t *fds, size_t *nfds) {
  if (ch == NULL || msg == NULL || fds == NULL || nfds == NULL)
    return shmap__err(SHMAP_EINVAL, "channel recv: NULL argument");
  *nfds = 0;
  memset(&ch->last, 0, sizeof ch->last);
  uint8_t buf[FRAME_MAX];
  size_t len = 0;
  int rc = shmap__os_chan_recv_frame(ch, buf, sizeof buf, &len, fds, nfds);
  if (rc != 0) {
    /* Framing errors leave the stream somewhere inside a message. EAGAIN
     * before the first byte and a clean close are at a boundary. */
    ch->in_sync = rc == SHMAP_EAGAIN;
    close_fds(fds, nfds);
    return rc;
  }
  ch->in_sync = 1;
  rc = shmap_wire_decode(&ch->last, buf + SHMAP_WIRE_HEADER_SIZE,
                         len - SHMAP_WIRE_HEADER_SIZE, msg);
  if (rc == 0)
    rc = shmap_wire_check_fds(msg, *nfds);
  if (rc != 0)
    close_fds(fds, nfds);
  return rc;
}

/* A reply straight to bytes: replies are the most frequent message and
 * have one form, so the generic encoder and its check would only copy. */
static int send_reply(shmap_channel *ch, uint32_t request, uint64_t value) {
  uint8_t buf[SHMAP__REPLY_BYTES];
  int rc = shmap__wire_reply_bytes(buf, request, value);
  return rc != 0 ? rc : shmap__os_chan_send(&ch->os, buf, sizeof buf, NULL, 0);
}

SHMAP__FLATTEN int shmap_channel_reply(shmap_channel *ch, uint32_t request,
                                       int result) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel reply: NULL channel");
  return send_reply(ch, request, shmap_wire_reply_value(result));
}

SHMAP__FLATTEN int shmap_channel_recv_reply(shmap_channel *ch, uint32_t request,
                                            uint64_t *value) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "channel recv_reply: NULL channel");
  shmap_wire_msg reply;
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t n = 0;
  /* A reply is a header and one u64: a stream transport reads it whole. */
  ch->expect = SHMAP_WIRE_HEADER_SIZE + 8;
  int rc = shmap_channel_recv(ch, &reply, fds, &n);
  ch->expect = 0;
  if (rc != 0)
    return rc;
  if (!(reply.hdr.flags & SHMAP_WIRE_REPLY) || reply.hdr.request != request)
    return shmap__err(SHMAP_EPROTO, "expected the reply to %s, got %s%s",
                      shmap_wire_request_name(request),
                      shmap_wire_request_name(reply.hdr.request),
                      reply.hdr.flags & SHMAP_WIRE_REPLY ? " reply" : "");
  if (value != NULL) {
    *value = reply.u.u64;
    return 0;
  }
  rc = shmap_wire_reply_result(reply.u.u64);
  if (rc != 0)
    return shmap__err(rc, "peer refused %s: %s",
                      shmap_wire_request_name(request), shmap_strerror(rc));
  return 0;
}

int shmap__serve_one(shmap_channel *ch, shmap_event *ev, shmap__apply_fn apply,
                     void *ctx) {
  shmap_event local;
  if (ev == NULL)
    ev = &local;
  /* Field by field: a decode fills ev->msg itself (and zeroes its union
   * when it fails), and clearing the whole event cost more than the rest
   * of a small request's checks. */
  ev->result = 0;
  ev->head = NULL;
  ev->msg.hdr.request = 0;
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t nfds = 0;
  int rc = shmap_channel_recv(ch, &ev->msg, fds, &nfds);
  const shmap_wire_header *h = shmap_channel_last_header(ch);
  ev->request = h->request;
  if (rc != 0 && ev->msg.hdr.request == 0)
    memset(&ev->msg, 0, sizeof ev->msg); /* the decoder never ran */
  if (rc != 0 && !shmap_channel_in_sync(ch))
    return rc; /* framing or transport: the connection is done */
  if (rc == 0 && (h->flags & SHMAP_WIRE_REPLY)) {
    /* Nothing to answer: a reply is not a request. */
    ev->result = shmap__err(SHMAP_EPROTO, "unexpected reply to %s",
                            shmap_wire_request_name(h->request));
    return 0;
  }
  shmap__outcome out = {0, NULL};
  if (rc == 0)
    rc = apply(ctx, ch, &ev->msg, fds, nfds, &out);
  ev->result = rc;
  ev->head = out.head;
  /* GET_MAX_MEM_SLOTS and EXTERNAL_MAP are always answered. */
  if (!(h->flags & SHMAP_WIRE_NEED_REPLY) &&
      h->request != SHMAP_REQ_GET_MAX_MEM_SLOTS &&
      h->request != SHMAP_REQ_EXTERNAL_MAP)
    return 0;
  return send_reply(ch, h->request,
                    rc != 0 ? shmap_wire_reply_value(rc) : out.value);
}
