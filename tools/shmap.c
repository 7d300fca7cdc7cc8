/* shmap — command-line tool.
 *
 *   shmap info
 *   shmap serve --listen ADDR --role backend [--guest-size SIZE]
 *               [--max-bytes SIZE] [--device blk [--capacity SECTORS]]
 *               [--peek GPA:LEN]
 *   shmap serve --listen ADDR --role frontend --shm ID:SIZE ...
 *   shmap send  --connect ADDR --role frontend --region GPA:SIZE[:SEED] ...
 *               [--negotiate] [--no-reply-ack] [--table] [--config]
 *               [--vring GPA] [--hold SECONDS] [--remove] [--slots]
 *   shmap send  --connect ADDR --role backend
 *               --shmem ID:SHM_OFFSET:SIZE[:SEED][:ro] ... [--hold SECONDS]
 *               [--unmap]
 *   shmap demo  frontend|backend ...
 *
 * A back-end server takes a front end's main socket and answers the
 * vhost-user handshake (--device blk: a minimal vhost-user-blk device, enough
 * for QEMU's vhost-user-blk-pci); a front-end server takes a back end's
 * back-end request socket. serve prints one JSON object per received message
 * and a closing {"event":"closed",...}; send prints one JSON object per
 * request. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmap.h"
#include "tool.h"

static int usage(void) {
  fputs("usage: shmap info\n"
        "       shmap serve --listen ADDR --role backend [--guest-size SIZE] "
        "[--max-bytes SIZE]\n"
        "                   [--device blk [--capacity SECTORS]] "
        "[--peek GPA:LEN]\n"
        "       shmap serve --listen ADDR --role frontend --shm ID:SIZE ...\n"
        "       shmap send --connect ADDR --role frontend "
        "--region GPA:SIZE[:SEED] ...\n"
        "                  [--negotiate] [--no-reply-ack] [--table] "
        "[--config] [--vring GPA]\n"
        "                  [--hold SECONDS] [--remove] [--slots]\n"
        "       shmap send --connect ADDR --role backend "
        "--shmem ID:OFFSET:SIZE[:SEED][:ro] ...\n"
        "                  [--hold SECONDS] [--unmap]\n"
        "       shmap demo frontend|backend ...\n",
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
