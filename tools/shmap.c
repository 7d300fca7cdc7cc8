/* shmap — command-line tool.
 *
 *   shmap info
 *   shmap serve --listen ADDR --role backend|frontend [--shm ID:SIZE ...]
 *               [--guest-size SIZE] [--max-bytes SIZE]
 *   shmap send  --connect ADDR --role frontend --region GPA:SIZE[:SEED] ...
 *               [--table] [--remove]
 *   shmap send  --connect ADDR --role backend
 *               --shmem ID:SHM_OFFSET:SIZE[:SEED][:ro] ... [--unmap]
 *
 * serve prints one JSON object per received message and a closing
 * {"event":"closed",...}; send prints one JSON object per reply. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmap.h"
#include "tool.h"

static int usage(void) {
  fputs("usage: shmap info\n"
        "       shmap serve --listen ADDR --role backend|frontend "
        "[--shm ID:SIZE ...] [--guest-size SIZE] [--max-bytes SIZE]\n"
        "       shmap send --connect ADDR --role frontend "
        "--region GPA:SIZE[:SEED] ... [--table] [--remove]\n"
        "       shmap send --connect ADDR --role backend "
        "--shmem ID:OFFSET:SIZE[:SEED][:ro] ... [--unmap]\n",
        stderr);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  if (strcmp(argv[1], "info") == 0)
    return tool_info();
  if (strcmp(argv[1], "serve") == 0)
    return tool_serve(argc - 1, argv + 1);
  if (strcmp(argv[1], "demo") == 0)
    return tool_demo(argc - 1, argv + 1);
  if (strcmp(argv[1], "send") == 0)
    return tool_send(argc - 1, argv + 1);
  return usage();
}
