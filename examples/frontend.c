/* frontend — a minimal VMM front end. It makes 1 MiB of guest RAM, maps it
 * into its own guest window at guest address 1 GiB, leaves a note there and
 * shares the region with the back end at ADDR. Then it reads the back end's
 * answer from the same memory.
 *
 *   frontend ADDR    (the back end's socket path, or \\.\pipe\NAME)
 *
 * Exits 0 when the answer quotes the note. */
#include <stdio.h>
#include <string.h>

#include "shmap.h"

#ifdef _WIN32
#  include <windows.h>
static void nap(void) { Sleep(50); }
#else
#  include <time.h>
static void nap(void) { nanosleep(&(struct timespec){0, 50000000L}, NULL); }
#endif

#define GUEST_ADDR (UINT64_C(1) << 30)
#define RAM_SIZE (UINT64_C(1) << 20)
#define ANSWER_AT 256

static int fail(const char *what) {
  fprintf(stderr, "frontend: %s: %s\n", what, shmap_last_message());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: frontend ADDR\n", stderr);
    return 2;
  }
  const char note[] = "guest RAM, shared by the front end";
  shmap_mappable *ram = NULL;
  shmap_window *guest = NULL;
  shmap_channel *ch = NULL;
  if (shmap_mappable_create(RAM_SIZE, 0, &ram) != 0 ||
      shmap_window_reserve(2 * GUEST_ADDR, 0, &guest) != 0 ||
      shmap_window_map(guest, GUEST_ADDR, ram, 0, RAM_SIZE, SHMAP_PROT_RW) != 0)
    return fail("guest RAM");
  char *p = shmap_window_translate(guest, GUEST_ADDR, RAM_SIZE);
  memcpy(p, note, sizeof note);

  /* The back end may still be starting: retry while nobody listens. */
  int rc, tries = 0;
  while ((rc = shmap_channel_connect(argv[1], SHMAP_ROLE_FRONTEND,
                                     SHMAP_CHANNEL_SAME_USER, &ch)) ==
             SHMAP_ECONNREFUSED &&
         ++tries < 200)
    nap();
  if (rc != 0)
    return fail("connect");
  shmap_region r = {.guest_address = GUEST_ADDR,
                    .size = RAM_SIZE,
                    .mappable = ram,
                    .file_offset = 0,
                    .host = p};
  if (shmap_frontend_add_region(ch, &r) != 0)
    return fail("ADD_MEM_REG");
  /* The back end answers before it reads its next message, so once it has
   * acknowledged the removal its answer is in our memory. */
  if (shmap_frontend_remove_region(ch, &r) != 0)
    return fail("REM_MEM_REG");
  int ok = strstr(p + ANSWER_AT, note) != NULL;
  printf("%s: %s\n", ok ? "OK" : "NO ANSWER", p + ANSWER_AT);
  shmap_channel_close(ch);
  shmap_window_release(guest);
  shmap_mappable_unref(ram);
  return ok ? 0 : 1;
}
