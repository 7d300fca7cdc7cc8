/* shmap tool — the subcommands and their shared helpers. */
#ifndef SHMAP_TOOL_H
#define SHMAP_TOOL_H

#include <stdint.h>
#include <stdio.h>

#include "shmap.h"

int tool_info(int argc, char **argv);
int tool_serve(int argc, char **argv);
int tool_send(int argc, char **argv);
int tool_demo(int argc, char **argv);

/* Parse a size with an optional K, M or G suffix (binary). */
int tool_parse_size(const char *s, uint64_t *out);

/* Option parsing, shared by the subcommands (getopt_long). Each returns 0,
 * or prints what was wrong on stderr (naming `cmd` and the option) and
 * returns 2, the exit status of a usage error. */
/* A usage error: "shmap CMD: MESSAGE" and a pointer to CMD's --help. */
int tool_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* getopt_long's '?' and ':' answers, turned into a usage error. */
int tool_bad_option(const char *cmd, int c, char **argv);
/* What every subcommand checks once its options are read: no stray
 * argument, the address option (`addr_opt`, e.g. "--listen") given, a role
 * given, and no option of the other role (`frontend_only` / `backend_only`:
 * the first such option seen, or NULL). */
int tool_check_common(const char *cmd, int argc, char **argv, const char *addr,
                      const char *addr_opt, unsigned role,
                      const char *frontend_only, const char *backend_only);
/* A size option (K, M, G binary suffixes). */
int tool_opt_size(const char *cmd, const char *opt, const char *v,
                  uint64_t *out);
/* --role backend|frontend. */
int tool_opt_role(const char *cmd, const char *v, unsigned *role);
/* Seconds, fractions allowed, in [min_s, max_s]; `*ms` in milliseconds. */
int tool_opt_seconds(const char *cmd, const char *opt, const char *v,
                     double min_s, double max_s, uint64_t *ms);
/* A fatal error as one JSON line on stdout:
 * {"event":"error","error":"SHMAP_E...","message":"WHAT: ..."}
 * (`rc` a shmap error code, or 0 for none: then "error" is absent).
 * `message` NULL: the library's last message. Returns 1. */
int tool_fatal(int rc, const char *what, const char *message);
/* Print `n` bytes as lowercase hex. */
void tool_print_hex(FILE *f, const void *p, size_t n);
/* Print `s` as a JSON string: quoted, with quotes, backslashes (pipe
 * names) and control characters escaped. */
void tool_print_json_string(FILE *f, const char *s);
/* Print the JSON fields of a decoded message under their wire-format names
 * (docs/wire.md). */
void tool_print_msg_fields(FILE *f, const shmap_wire_msg *msg);

/* One JSON line of `serve`: the opening fields (request name, code, result,
 * and error and message when it failed: `why`, or NULL for the library's
 * last message), then the caller's own fields, then
 * tool_line_end() (foreign flag, live count, newline, flush). */
void tool_line_begin(const char *name, uint32_t code, int result,
                     const char *why);
void tool_line_end(int foreign, size_t live);
/* Little-endian integers in a payload. */
uint32_t tool_le32(const uint8_t *p);
uint64_t tool_le64(const uint8_t *p);
void tool_put_le32(uint8_t *p, uint32_t v);
void tool_put_le64(uint8_t *p, uint64_t v);
/* One JSON line of `send`: {"request":NAME,"result":RC[,"error","message"]
 * then the caller's fields, then tool_result_end(), which returns rc != 0. */
void tool_result_begin(const char *request, int rc);
int tool_result_end(int rc);

/* send's vhost-user requests outside the memory ones (send_vhost.c); each
 * prints its JSON lines and returns how many requests failed. */
/* The handshake: shmap_frontend_negotiate(), or with reply_ack 0 the same
 * steps by hand without REPLY_ACK. */
int tool_vhost_negotiate(shmap_channel *ch, int reply_ack,
                         uint64_t want_protocol);
/* GET_CONFIG of a virtio-blk config space: prints the capacity. */
int tool_vhost_get_config(shmap_channel *ch);
/* SET_VRING_ADDR of ring 0 with these front-end addresses. */
int tool_vhost_vring_addr(shmap_channel *ch, uint64_t desc, uint64_t used,
                          uint64_t avail);

/* Sleep `ms` milliseconds. */
void tool_sleep_ms(uint64_t ms);

/* serve --device blk: the vhost-user-blk device of examples/vhost-user-blk
 * (device_blk.c prints its JSON lines). Its image I/O is POSIX only:
 * TOOL_BLK_IO is 1 where the tool serves --image. */
#include "vub.h"
#ifndef TOOL_BLK_IO
#  define TOOL_BLK_IO 0
#endif
/* The back end's foreign callback (shmap_foreign_fn, ctx a vub_dev):
 * the device answers; one JSON line for each message. */
int tool_blk_foreign(void *ctx, shmap_channel *ch, shmap_msg *m);
/* vub_dev.on_report: one JSON line per failed request or broken ring. */
void tool_blk_report(void *ctx, const vub_report *r);
/* The I/O counts, one JSON line at the end of a session with an image. */
void tool_blk_summary(const vub_dev *d);

#endif
