/* shmap — command-line tool.
 *
 *   shmap info                              platform facts, one JSON object
 *   shmap serve --listen ADDR --role backend|frontend ...
 *   shmap send  --connect ADDR --role frontend|backend ...
 *   shmap demo  frontend|backend ...
 *   shmap --help | -h | help [COMMAND]      usage on stdout, exit 0
 *   shmap --version                         the library's version, exit 0
 *   shmap COMMAND --help                    the command's options
 *
 * A back-end server takes a front end's main socket and answers the
 * vhost-user handshake (--device blk: a minimal vhost-user-blk device, enough
 * for QEMU's vhost-user-blk-pci); a front-end server takes a back end's
 * back-end request socket.
 *
 * Output. serve and send print JSON lines on stdout, one object per line:
 *   - one per message or request: {"request":NAME,...,"result":RC} and, when
 *     it failed, "error" (the shmap code's name, "SHMAP_E...") and
 *     "message"; the message's fields under their vhost-user names
 *     (guest_phys_addr, memory_size, userspace_addr, mmap_offset, shmid,
 *     shm_offset, fd_offset, len, flags);
 *   - events: {"event":NAME,...}: listening, refused, added, peek, io,
 *     request_failed, ring_broken, closed, and error.
 * A fatal error (setup, connect, accept) is the line
 *   {"event":"error","error":"SHMAP_E...","message":"..."}
 * ("error" absent when the cause is not a shmap error) and exit status 1.
 *
 * Exit status: 0 success; 1 a failed request or a fatal error; 2 a usage
 * error, explained on stderr (bad option, bad value, an option that does
 * not fit the role). Sizes take K, M or G suffixes, binary (1K = 1024). */
#include <stdio.h>
#include <string.h>

#include "shmap.h"
#include "tool.h"

static const char usage_text[] =
    "usage: shmap COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  info    print the platform's and library's facts (one JSON object)\n"
    "  serve   accept one vhost-user peer and print each message it sends\n"
    "  send    connect to a peer and share memory with it\n"
    "  demo    the front end and back end of a two-process demonstration\n"
    "  help    this help (help COMMAND: that command's help)\n"
    "\n"
    "Options:\n"
    "  -h, --help     this help\n"
    "  -V, --version  print the library's version\n"
    "\n"
    "Run 'shmap COMMAND --help' for a command's options. serve and send print\n"
    "JSON lines on stdout; a fatal error is the line\n"
    "{\"event\":\"error\",\"error\":\"SHMAP_E...\",\"message\":\"...\"}.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static int run(const char *cmd, int argc, char **argv) {
  if (strcmp(cmd, "info") == 0)
    return tool_info(argc, argv);
  if (strcmp(cmd, "serve") == 0)
    return tool_serve(argc, argv);
  if (strcmp(cmd, "send") == 0)
    return tool_send(argc, argv);
  if (strcmp(cmd, "demo") == 0)
    return tool_demo(argc, argv);
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return 2;
  }
  const char *a = argv[1];
  if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ||
      strcmp(a, "help") == 0) {
    if (strcmp(a, "help") == 0 && argc == 3) {
      static char help_opt[] = "--help";
      char *sub[] = {argv[2], help_opt, NULL};
      int rc = run(argv[2], 2, sub);
      if (rc >= 0)
        return rc;
      fprintf(stderr, "shmap help: unknown command '%s'\n", argv[2]);
      return 2;
    }
    if (argc > 2) {
      fprintf(stderr, "shmap: unexpected argument '%s'\n",
              argv[strcmp(a, "help") == 0 ? 3 : 2]);
      return 2;
    }
    fputs(usage_text, stdout);
    return 0;
  }
  if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
    printf("shmap %s\n", shmap_version_string());
    return 0;
  }
  int rc = run(a, argc - 1, argv + 1);
  if (rc >= 0)
    return rc;
  if (a[0] == '-')
    fprintf(stderr, "shmap: unknown option %s\n", a);
  else
    fprintf(stderr, "shmap: unknown command '%s'\n", a);
  fputs("Try 'shmap --help'.\n", stderr);
  return 2;
}
