/* shmap info — platform facts as one JSON object. */
#include "tool.h"

int tool_info(void) {
  shmap_platform_info p;
  shmap_platform(&p);
  printf("{\"version\":\"%s\",\"os\":\"%s\",\"page_size\":%llu,"
         "\"granularity\":%llu,\"memfd\":%s,\"seals\":%s,"
         "\"window_path\":\"%s\"}\n",
         SHMAP_VERSION_STRING, p.os, (unsigned long long)p.page_size,
         (unsigned long long)p.granularity, p.memfd ? "true" : "false",
         p.seals ? "true" : "false", p.window_path);
  return 0;
}
