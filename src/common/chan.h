/* shmap — channels and the serve loop both endpoints share
 * (common/channel.c). */
#ifndef SHMAP_CHAN_H
#define SHMAP_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "os.h"
#include "shmap.h"

/* A region the front end shared on a main channel: the fields it sent (so
 * that REM_MEM_REG repeats them, and SET_MEM_TABLE can resend the table to
 * a peer without CONFIGURE_MEM_SLOTS) and a reference to its memory. */
typedef struct shmap__shared {
  shmap_wire_region w;
  shmap_mappable *m;
} shmap__shared;

struct shmap_channel {
  shmap__chan_os os;
  unsigned role;
  unsigned flags;
  int rx;         /* code space of requests this end receives (0: none) */
  int tx;         /* code space of requests this end sends (0: none) */
  uint64_t proto; /* protocol features agreed with the peer */
  shmap_wire_header last; /* header of the last message received */
  int in_sync;
  int timeout_ms; /* shmap_channel_set_timeout(); 0: no bound */
  /* A message half read on a non-blocking socket (the OS layer's, POSIX):
   * rx_got bytes of it are in rxbuf and rx_fds are the descriptors that
   * came with it, owned here until the next receive resumes it or close
   * closes them. rx_got 0: none kept. */
  size_t rx_got;
  size_t rx_nfds;
  shmap_native_t rx_fds[SHMAP_WIRE_MAX_FDS];
  /* Whole size of the next message when the caller knows it (a requester
   * waiting for its reply), else 0. A stream transport may then read it
   * with one call instead of header and payload apart. */
  size_t expect;
  /* Front end, main channel: what it shared, in the order it shared it. */
  shmap__shared *shared;
  size_t nshared, capshared;
  /* The receiving thread's frame buffer (one receiver at a time). Here
   * rather than on the stack: a 4 KiB frame on every receive path cost the
   * round trip 3 points over the bare calls (docs/performance.md), and the
   * same lines are reused by every message. */
  uint8_t rxbuf[SHMAP_MSG_MAX_FRAME];
};

struct shmap_listener {
  shmap__listener_os os;
};

/* Validate a received header for `ch` (records it as ch->last) and give
 * the payload size it announces. */
int shmap__chan_header(shmap_channel *ch, const uint8_t *buf, size_t *payload);

/* Receive one frame into buf (room for SHMAP_MSG_MAX_FRAME) with its
 * descriptors. A message shmap decodes (a memory request of ch->rx, a reply
 * to one of ch->tx) is decoded into *wire and its descriptor count checked:
 * *known 1. Any other well-framed message: *known 0, its payload at
 * buf + SHMAP_WIRE_HEADER_SIZE, descriptors kept. On error every descriptor
 * is closed and *nfds is 0. */
int shmap__chan_recv(shmap_channel *ch, uint8_t *buf, shmap_wire_msg *wire,
                     shmap_native_t *fds, size_t *nfds, int *known);

/* Send request `m` with its descriptors; when a reply is due (NEED_REPLY,
 * set with REPLY_ACK, or a request always answered) wait for it: its value
 * in *value when value is not NULL, else 0 or the error the peer replied.
 * Refuses locally a request this end may not send. */
int shmap__request(shmap_channel *ch, shmap_wire_msg *m,
                   const shmap_native_t *fds, size_t nfds, uint64_t *value);

/* Send a reply (flags 0x5) to `request` carrying `value`. */
int shmap__send_reply(shmap_channel *ch, uint32_t request, uint64_t value);

/* Drop the front end's record of what it shared (channel close). */
void shmap__shared_clear(shmap_channel *ch);

/* What applying one request produced, besides its result. */
typedef struct shmap__outcome {
  uint64_t value; /* the reply value on success (GET_MAX_MEM_SLOTS) */
  void *head;     /* first byte of a new mapping, for the event */
} shmap__outcome;

/* An endpoint's handler of one received message. `m` is the decoded form
 * when `known`; `raw` the whole message otherwise (header, payload,
 * descriptors), NULL when the caller has only the decoded form. Returns
 * the result to reply, or SHMAP__NOT_MINE (positive) for a message the
 * endpoint does not handle, leaving its descriptors alone. Handled: the
 * descriptors are the handler's. */
#define SHMAP__NOT_MINE 1
typedef int (*shmap__apply_fn)(void *ctx, shmap_channel *ch,
                               const shmap_wire_msg *m, int known,
                               shmap_msg *raw, shmap_native_t *fds, size_t nfds,
                               shmap__outcome *out);

/* Receive one message, apply it (apply owns the descriptors) and answer
 * when asked: the loop shared by both endpoints. A message the endpoint
 * does not handle goes to `foreign` (which then owns it), or is refused. */
int shmap__serve_one(shmap_channel *ch, shmap_event *ev, shmap__apply_fn apply,
                     void *ctx, shmap_foreign_fn foreign, void *foreign_ctx);

/* The sans-I/O step both endpoints expose: apply `m`, fill *reply. */
int shmap__apply_msg(shmap_channel *ch, shmap_msg *m, shmap_reply *reply,
                     shmap_event *ev, shmap__apply_fn apply, void *ctx);

#endif /* SHMAP_CHAN_H */
