/* shmap send — the vhost-user requests a front end sends besides the
 * memory ones: the handshake, GET_CONFIG, SET_VRING_ADDR. */
#include <inttypes.h>
#include <string.h>

#include "tool.h"

/* What the tool asks of a back end's protocol features: everything shmap
 * itself uses, plus the caller's. */
#define WANT_PROTOCOL SHMAP_PROTOCOL_SHMAP_DEFAULT

/* Large: kept off the stack. One thread only. */
static shmap_msg reply;

static int line_u64(const char *request, int rc, const char *field,
                    uint64_t v) {
  tool_result_begin(request, rc);
  if (rc == 0 && field != NULL)
    printf(",\"%s\":\"0x%" PRIx64 "\"", field, v);
  return tool_result_end(rc);
}

static int get_u64(shmap_channel *ch, uint32_t code, uint64_t *v) {
  int rc = shmap_channel_call(ch, code, NULL, 0, NULL, 0, &reply);
  if (rc == 0)
    rc = shmap_msg_u64(&reply, v);
  shmap_msg_release(&reply);
  return rc;
}

static int set_u64(shmap_channel *ch, uint32_t code, uint64_t v) {
  uint8_t p[8];
  tool_put_le64(p, v);
  return shmap_channel_call(ch, code, p, sizeof p, NULL, 0, NULL);
}

/* The handshake by hand, as shmap_frontend_negotiate() runs it but with
 * REPLY_ACK left out of the agreed protocol features. */
static int by_hand(shmap_channel *ch, uint64_t want_protocol) {
  uint64_t offered = 0, proto = 0, agreed = 0;
  /* Nothing waits for an ack until (and unless) one is agreed. */
  shmap_channel_set_protocol_features(ch, 0);
  int rc = get_u64(ch, SHMAP_REQ_GET_FEATURES, &offered);
  if (line_u64("GET_FEATURES", rc, "offered", offered))
    return 1;
  if (offered & SHMAP_VHOST_F_PROTOCOL_FEATURES) {
    rc = get_u64(ch, SHMAP_REQ_GET_PROTOCOL_FEATURES, &proto);
    if (line_u64("GET_PROTOCOL_FEATURES", rc, "offered", proto))
      return 1;
    agreed =
        proto & (WANT_PROTOCOL | want_protocol) & ~SHMAP_PROTOCOL_F_REPLY_ACK;
    rc = set_u64(ch, SHMAP_REQ_SET_PROTOCOL_FEATURES, agreed);
    if (line_u64("SET_PROTOCOL_FEATURES", rc, "agreed", agreed))
      return 1;
    shmap_channel_set_protocol_features(ch, agreed);
  }
  rc = shmap_channel_call(ch, SHMAP_REQ_SET_OWNER, NULL, 0, NULL, 0, NULL);
  if (line_u64("SET_OWNER", rc, NULL, 0))
    return 1;
  rc = set_u64(ch, SHMAP_REQ_SET_FEATURES, offered);
  return line_u64("SET_FEATURES", rc, "agreed", offered);
}

int tool_vhost_negotiate(shmap_channel *ch, int reply_ack,
                         uint64_t want_protocol) {
  if (!reply_ack)
    return by_hand(ch, want_protocol);
  shmap_negotiation n;
  /* A test peer: acknowledge every device feature it offers. */
  int rc = shmap_frontend_negotiate(ch, ~UINT64_C(0), want_protocol, &n);
  if (rc != 0) {
    tool_result_begin("NEGOTIATE", rc);
    printf(",\"offered\":\"0x%" PRIx64 "\",\"offered_protocol\":\"0x%" PRIx64
           "\"",
           n.offered_features, n.offered_protocol);
    return tool_result_end(rc);
  }
  line_u64("GET_FEATURES", 0, "offered", n.offered_features);
  if (n.offered_features & SHMAP_VHOST_F_PROTOCOL_FEATURES) {
    line_u64("GET_PROTOCOL_FEATURES", 0, "offered", n.offered_protocol);
    line_u64("SET_PROTOCOL_FEATURES", 0, "agreed", n.protocol_features);
  }
  line_u64("SET_OWNER", 0, NULL, 0);
  line_u64("SET_FEATURES", 0, "agreed", n.features);
  return 0;
}

/* The virtio-blk config space: capacity u64 @0 ... 60 bytes. */
#define BLK_CONFIG_SIZE 60

int tool_vhost_get_config(shmap_channel *ch) {
  uint8_t p[12 + BLK_CONFIG_SIZE];
  memset(p, 0, sizeof p);
  tool_put_le32(p + 4, BLK_CONFIG_SIZE); /* offset 0, size, flags 0 */
  int rc = shmap_channel_call(ch, SHMAP_REQ_GET_CONFIG, p, sizeof p, NULL, 0,
                              &reply);
  shmap_msg_release(&reply);
  if (rc == 0 && reply.hdr.size != sizeof p) {
    printf("{\"request\":\"GET_CONFIG\",\"result\":%d,\"error\":\"%s\","
           "\"message\":\"reply of %" PRIu32 " bytes, not %zu\"}\n",
           SHMAP_ESIZE, shmap_err_name(SHMAP_ESIZE), reply.hdr.size, sizeof p);
    fflush(stdout);
    return 1;
  }
  tool_result_begin("GET_CONFIG", rc);
  if (rc == 0)
    printf(",\"size\":%" PRIu32 ",\"capacity\":%" PRIu64,
           tool_le32(reply.payload + 4), tool_le64(reply.payload + 12));
  return tool_result_end(rc);
}

int tool_vhost_vring_addr(shmap_channel *ch, uint64_t desc, uint64_t used,
                          uint64_t avail) {
  uint8_t p[40];
  memset(p, 0, sizeof p); /* index 0, flags 0, log 0 */
  tool_put_le64(p + 8, desc);
  tool_put_le64(p + 16, used);
  tool_put_le64(p + 24, avail);
  int rc = shmap_channel_call(ch, SHMAP_REQ_SET_VRING_ADDR, p, sizeof p, NULL,
                              0, NULL);
  tool_result_begin("SET_VRING_ADDR", rc);
  printf(",\"desc\":\"0x%" PRIx64 "\"", desc);
  return tool_result_end(rc);
}
