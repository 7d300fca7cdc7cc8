/* shmap info — platform facts as one JSON object. */
#include <getopt.h>
#include <string.h>

#include "tool.h"

static const char help[] =
    "usage: shmap info\n"
    "\n"
    "Print one JSON object with the facts of this platform and library:\n"
    "  version      the library's version (shmap_version_string())\n"
    "  os           the operating system shmap was built for\n"
    "  page_size    the page size in bytes\n"
    "  granularity  the mapping granularity in bytes (64 KiB on Windows)\n"
    "  memfd        true when mappables are memfds\n"
    "  seals        true when mappables can be sealed\n"
    "  window_path  how windows are built on this system\n"
    "\n"
    "Options:\n"
    "  -h, --help   this help\n";

int tool_info(int argc, char **argv) {
  static const struct option longs[] = {{"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
    if (c == 'h') {
      fputs(help, stdout);
      return 0;
    }
    return tool_bad_option("info", c, argv);
  }
  if (optind < argc)
    return tool_usage_error("info", "unexpected argument '%s'", argv[optind]);
  shmap_platform_info p;
  shmap_platform(&p);
  printf("{\"version\":");
  tool_print_json_string(stdout, shmap_version_string());
  printf(",\"os\":\"%s\",\"page_size\":%llu,"
         "\"granularity\":%llu,\"memfd\":%s,\"seals\":%s,"
         "\"window_path\":\"%s\"}\n",
         p.os, (unsigned long long)p.page_size,
         (unsigned long long)p.granularity, p.memfd ? "true" : "false",
         p.seals ? "true" : "false", p.window_path);
  return 0;
}
