/* Windows-only behaviour: section kinds, the read-only DACL, the window
 * path in use, and fault-safe access through the vectored handler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "support.h"

#define G shmap_map_granularity()

SHMAP_TEST(win32, reports_window_path) {
  shmap_platform_info p;
  shmap_platform(&p);
  printf("window path: %s\n", p.window_path);
  fflush(stdout);
  cr_assert_eq(p.granularity, 65536);
  const char *want = getenv("SHMAP_EXPECT_WINDOW_PATH");
  const char *forced = getenv("SHMAP_WIN32_WINDOW");
  if (forced != NULL && strcmp(forced, "fallback") == 0)
    want = "fallback";
  if (want != NULL)
    cr_assert_str_eq(p.window_path, want);
}

SHMAP_TEST(win32, readonly_duplicate_stays_readonly) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(G, 0, &m));
  HANDLE ro;
  ASSERT_OK(shmap_mappable_share_readonly(m, &ro));
  HANDLE w = NULL;
  BOOL ok = DuplicateHandle(GetCurrentProcess(), ro, GetCurrentProcess(), &w,
                            SECTION_MAP_WRITE | SECTION_MAP_READ, FALSE, 0);
  if (ok)
    CloseHandle(w);
  cr_assert(!ok, "a read-only grant was re-duplicated with write access");
  shmap_mappable *r;
  ASSERT_OK(shmap_mappable_adopt(ro, &r));
  cr_assert_eq(shmap_mappable_access(r), SHMAP_PROT_READ);
  shmap_window *win;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &win));
  ASSERT_ERR(shmap_window_map(win, 0, r, 0, G, SHMAP_PROT_RW), SHMAP_EACCES);
  ASSERT_OK(shmap_window_map(win, 0, r, 0, G, SHMAP_PROT_READ));
  ASSERT_ERR(shmap_window_protect(win, 0, G, SHMAP_PROT_RW), SHMAP_EACCES);
  shmap_window_release(win);
  shmap_mappable_unref(r);
  shmap_mappable_unref(m);
}

SHMAP_TEST(win32, reserve_sections_and_other_handles_are_refused) {
  HANDLE res =
      CreateFileMappingW(INVALID_HANDLE_VALUE, NULL,
                         PAGE_READWRITE | SEC_RESERVE, 0, (DWORD)(4 * G), NULL);
  cr_assert_not_null(res);
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_adopt(res, &m));
  ASSERT_ERR(shmap_mappable_check_range(m, 0, G), SHMAP_EBACKING);
  shmap_window *win;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &win));
  ASSERT_ERR(shmap_window_map(win, 0, m, 0, G, SHMAP_PROT_RW), SHMAP_EBACKING);
  shmap_window_release(win);
  shmap_mappable_unref(m);

  HANDLE ev = CreateEventW(NULL, FALSE, FALSE, NULL);
  ASSERT_ERR(shmap_mappable_adopt(ev, &m), SHMAP_EBADF);
  cr_assert(test_native_is_open(ev), "the caller still owns it");
  CloseHandle(ev);
}

SHMAP_TEST(win32, fault_safe_access_survives_vanished_memory) {
  uint8_t *mem =
      VirtualAlloc(NULL, (SIZE_T)G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  cr_assert_not_null(mem);
  shmap_window *win;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &win));
  ASSERT_OK(shmap_window_map_external(win, G, G, mem));
  uint8_t buf[64] = {1, 2, 3};
  ASSERT_OK(shmap_window_write(win, G + 100, buf, sizeof buf, NULL));
  cr_assert_eq(mem[101], 2);
  /* The producer frees the memory behind the record. */
  VirtualFree(mem, 0, MEM_RELEASE);
  uint64_t at = 0;
  ASSERT_ERR(shmap_window_read(win, G + 200, buf, sizeof buf, &at),
             SHMAP_EFAULT);
  cr_assert_eq(at, G + 200);
  ASSERT_ERR(shmap_window_write(win, G, buf, 8, &at), SHMAP_EFAULT);
  ASSERT_OK(shmap_window_unmap(win, G, G));
  shmap_window_release(win);
}

/* On the placeholder path every unmapped gap is exactly one placeholder:
 * one allocation whose region spans the whole gap. */
static void expect_one_placeholder(uint8_t *lo, uint8_t *hi) {
  MEMORY_BASIC_INFORMATION mi;
  cr_assert(VirtualQuery(lo, &mi, sizeof mi) != 0);
  cr_assert_eq(mi.State, MEM_RESERVE);
  cr_assert_eq((uint8_t *)mi.AllocationBase, lo, "gap starts a placeholder");
  cr_assert_eq((uint8_t *)mi.BaseAddress + mi.RegionSize, hi,
               "one placeholder spans the gap: ends at %p, gap at %p",
               (void *)((uint8_t *)mi.BaseAddress + mi.RegionSize), (void *)hi);
}

SHMAP_TEST(win32, one_placeholder_per_gap) {
  shmap_platform_info p;
  shmap_platform(&p);
  if (strcmp(p.window_path, "placeholder") != 0) {
    printf("window path %s: no placeholders to count\n", p.window_path);
    return;
  }
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4 * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(32 * G, 0, &w));
  uint8_t *b = shmap_window_base(w);
  ASSERT_OK(shmap_window_map(w, 4 * G, m, 0, 2 * G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map(w, 8 * G, m, 0, G, SHMAP_PROT_READ));
  ASSERT_OK(shmap_window_map_anon(w, 12 * G, 2 * G, SHMAP_PROT_RW));
  expect_one_placeholder(b, b + 4 * G);
  expect_one_placeholder(b + 6 * G, b + 8 * G);
  expect_one_placeholder(b + 9 * G, b + 12 * G);
  expect_one_placeholder(b + 14 * G, b + 32 * G);
  /* Unmapping the middle merges three gaps and the mapping into one. */
  ASSERT_OK(shmap_window_unmap(w, 8 * G, G));
  expect_one_placeholder(b + 6 * G, b + 12 * G);
  ASSERT_OK(shmap_window_unmap(w, 12 * G, 2 * G));
  expect_one_placeholder(b + 6 * G, b + 32 * G);
  ASSERT_OK(shmap_window_unmap(w, 4 * G, 2 * G));
  expect_one_placeholder(b, b + 32 * G);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

/* External records map nothing, so a gap runs on past any number of them;
 * with hundreds of entries its ends lie in other chunks of the table. */
SHMAP_TEST(win32, placeholder_gaps_run_past_external_records) {
  shmap_platform_info p;
  shmap_platform(&p);
  if (strcmp(p.window_path, "placeholder") != 0) {
    printf("window path %s: no placeholders to count\n", p.window_path);
    return;
  }
  /* Slot i is 4 granules: a mapping, then two external records. */
  const uint64_t n = 200, slot = 4 * G;
  static uint8_t producer[2 << 16];
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(n * slot, 0, &w));
  uint8_t *b = shmap_window_base(w);
  for (uint64_t i = 0; i < n; i++) {
    ASSERT_OK(shmap_window_map_external(w, i * slot + G, G, producer));
    ASSERT_OK(shmap_window_map_external(w, i * slot + 2 * G, G, producer));
    ASSERT_OK(shmap_window_map_anon(w, i * slot, G, SHMAP_PROT_RW));
  }
  for (uint64_t i = 0; i < n; i++)
    expect_one_placeholder(b + i * slot + G, b + (i + 1) * slot);
  /* Every other mapping goes: each gap now spans two slots' records. */
  for (uint64_t i = 1; i < n; i += 2)
    ASSERT_OK(shmap_window_unmap(w, i * slot, G));
  for (uint64_t i = 0; i + 2 < n; i += 2)
    expect_one_placeholder(b + i * slot + G, b + (i + 2) * slot);
  expect_one_placeholder(b + (n - 2) * slot + G, b + n * slot);
  for (uint64_t i = 0; i < n; i += 2)
    ASSERT_OK(shmap_window_unmap(w, i * slot, G));
  expect_one_placeholder(b, b + n * slot);
  shmap_window_release(w);
}
