/* shmap tool — the subcommands and their shared helpers. */
#ifndef SHMAP_TOOL_H
#define SHMAP_TOOL_H

#include <stdint.h>
#include <stdio.h>

#include "shmap.h"

int tool_info(void);
int tool_serve(int argc, char **argv);
int tool_send(int argc, char **argv);
int tool_demo(int argc, char **argv);

/* Parse a size with an optional K, M or G suffix (binary). */
int tool_parse_size(const char *s, uint64_t *out);
/* Print `n` bytes as lowercase hex. */
void tool_print_hex(FILE *f, const void *p, size_t n);
/* Print `s` as a JSON string: quoted, with quotes, backslashes (pipe
 * names) and control characters escaped. */
void tool_print_json_string(FILE *f, const char *s);
/* Print the JSON fields of a decoded message under their wire-format names
 * (docs/wire.md). */
void tool_print_msg_fields(FILE *f, const shmap_wire_msg *msg);

#endif
