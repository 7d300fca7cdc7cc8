/* shmap — Windows windows: placeholders where the system has them,
 * re-reserved plain reservations where it does not.
 *
 * Placeholder path (Windows 10 1803+, Wine 9+): the window is placeholder
 * address space. Mapping splits off exactly the target range
 * (VirtualFree MEM_RELEASE|MEM_PRESERVE_PLACEHOLDER) and replaces it with
 * the view (MapViewOfFile3 MEM_REPLACE_PLACEHOLDER); unmapping turns the
 * view back into a placeholder (UnmapViewOfFile2 MEM_PRESERVE_PLACEHOLDER)
 * and coalesces it with the free neighbours, keeping one placeholder per
 * unmapped gap. The address space is never free at any moment.
 *
 * Fallback path: the window is a set of ordinary MEM_RESERVE reservations.
 * To map, the reservations under the target are released, the parts around
 * it re-reserved, and the view placed with MapViewOfFileEx at the address;
 * if another thread takes the hole in between, everything is undone and
 * retried. Anonymous memory is committed in place (no release needed).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* mingw-w64 10 has neither the constants nor import entries. */
#ifndef MEM_RESERVE_PLACEHOLDER
#  define MEM_RESERVE_PLACEHOLDER 0x00040000
#endif
#ifndef MEM_REPLACE_PLACEHOLDER
#  define MEM_REPLACE_PLACEHOLDER 0x00004000
#endif
#ifndef MEM_PRESERVE_PLACEHOLDER
#  define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif
#ifndef MEM_COALESCE_PLACEHOLDERS
#  define MEM_COALESCE_PLACEHOLDERS 0x00000001
#endif

typedef PVOID(WINAPI *virtual_alloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG,
                                         void *, ULONG);
typedef PVOID(WINAPI *map_view3_fn)(HANDLE, HANDLE, PVOID, ULONG64, SIZE_T,
                                    ULONG, ULONG, void *, ULONG);
typedef BOOL(WINAPI *unmap_view2_fn)(HANDLE, PVOID, ULONG);

static virtual_alloc2_fn virtual_alloc2;
static map_view3_fn map_view3;
static unmap_view2_fn unmap_view2;
static int placeholders;

/* Resolve the three functions and try one placeholder: Wine 8 exports
 * VirtualAlloc2 but fails MEM_RESERVE_PLACEHOLDER with error 87. */
static BOOL CALLBACK probe(INIT_ONCE *once, void *param, void **ctx) {
  (void)once, (void)param, (void)ctx;
  const char *force = getenv("SHMAP_WIN32_WINDOW");
  if (force != NULL && strcmp(force, "fallback") == 0)
    return TRUE;
  HMODULE kb = GetModuleHandleW(L"kernelbase.dll");
  if (kb == NULL)
    return TRUE;
  virtual_alloc2 =
      (virtual_alloc2_fn)(void (*)(void))GetProcAddress(kb, "VirtualAlloc2");
  map_view3 =
      (map_view3_fn)(void (*)(void))GetProcAddress(kb, "MapViewOfFile3");
  unmap_view2 =
      (unmap_view2_fn)(void (*)(void))GetProcAddress(kb, "UnmapViewOfFile2");
  if (virtual_alloc2 == NULL || map_view3 == NULL || unmap_view2 == NULL)
    return TRUE;
  SIZE_T g = (SIZE_T)shmap__os_granularity();
  void *p =
      virtual_alloc2(NULL, NULL, 2 * g, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                     PAGE_NOACCESS, NULL, 0);
  if (p == NULL)
    return TRUE;
  /* Splitting is the operation the fallback lacks: check it works too. */
  placeholders = VirtualFree(p, g, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER);
  VirtualFree(p, 0, MEM_RELEASE);
  if (placeholders)
    VirtualFree((char *)p + g, 0, MEM_RELEASE);
  return TRUE;
}

int shmap__win_placeholders(void) {
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  InitOnceExecuteOnce(&once, probe, NULL, NULL);
  return placeholders;
}

static DWORD page_prot(unsigned prot) {
  return prot == SHMAP_PROT_RW     ? PAGE_READWRITE
         : prot == SHMAP_PROT_READ ? PAGE_READONLY
                                   : PAGE_NOACCESS;
}

static int os_err(const char *what, uint64_t offset) {
  DWORD e = GetLastError();
  return shmap__err_sys(SHMAP_EOS, (int)e, "window %s at offset 0x%" PRIx64,
                        what, offset);
}

/* ------------------------------------------------------------ reserving */

/* Fallback windows remember exactly which reservations are their own
 * (w->os, see the fallback path below). */
typedef shmap__window_os fb_state;
static int fb_track(fb_state *f, uint8_t *lo, uint8_t *hi);

/* Over-reserve to find an aligned hole, give it back and take exactly the
 * aligned part; another thread can win the hole in between, so retry. The
 * system aligns every reservation to the granularity already, so that much
 * alignment needs one call. */
static uint8_t *reserve_aligned(uint64_t size, uint64_t align, int ph) {
  if (align <= shmap__os_granularity())
    return ph ? virtual_alloc2(NULL, NULL, (SIZE_T)size,
                               MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                               PAGE_NOACCESS, NULL, 0)
              : VirtualAlloc(NULL, (SIZE_T)size, MEM_RESERVE, PAGE_NOACCESS);
  for (int attempt = 0; attempt < 64; attempt++) {
    SIZE_T total = (SIZE_T)(size + align);
    uint8_t *p = VirtualAlloc(NULL, total, MEM_RESERVE, PAGE_NOACCESS);
    if (p == NULL)
      return NULL;
    uintptr_t a =
        ((uintptr_t)p + (uintptr_t)align - 1) & ~(uintptr_t)(align - 1);
    VirtualFree(p, 0, MEM_RELEASE);
    void *q =
        ph ? virtual_alloc2(NULL, (void *)a, (SIZE_T)size,
                            MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                            PAGE_NOACCESS, NULL, 0)
           : VirtualAlloc((void *)a, (SIZE_T)size, MEM_RESERVE, PAGE_NOACCESS);
    if (q != NULL)
      return q;
  }
  return NULL;
}

/* The path is chosen once per window and kept in w->os: every later call
 * on the window follows it (a process-wide probe cannot change under a
 * window, but the window should not depend on that). */
int shmap__os_window_reserve(shmap_window *w, uint64_t align) {
  fb_state *f = &w->os;
  memset(f, 0, sizeof *f);
  f->placeholders = shmap__win_placeholders();
  w->base = reserve_aligned(w->size, align, f->placeholders);
  if (w->base == NULL)
    return os_err("reserve", 0);
  if (!f->placeholders && fb_track(f, w->base, w->base + w->size) != 0) {
    VirtualFree(w->base, 0, MEM_RELEASE);
    free(f->lo);
    free(f->hi);
    memset(f, 0, sizeof *f);
    return shmap__err(SHMAP_ENOMEM, "window reserve: out of memory");
  }
  return 0;
}

/* Release every placeholder in [lo, hi) (the placeholder window owns all
 * of its range at every moment). */
static void release_all(uint8_t *lo, uint8_t *hi) {
  while (lo < hi) {
    MEMORY_BASIC_INFORMATION mi;
    if (VirtualQuery(lo, &mi, sizeof mi) == 0)
      return;
    uint8_t *next = (uint8_t *)mi.BaseAddress + mi.RegionSize;
    if (mi.State != MEM_FREE)
      VirtualFree(mi.AllocationBase, 0, MEM_RELEASE);
    lo = next;
  }
}

void shmap__os_window_release(shmap_window *w) {
  fb_state *f = &w->os;
  if (f->placeholders) {
    release_all(w->base, w->base + w->size); /* placeholders: all ours */
    return;
  }
  for (size_t i = 0; i < f->n; i++)
    VirtualFree(f->lo[i], 0, MEM_RELEASE);
  free(f->lo);
  free(f->hi);
  memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------ placeholder path */

/* The unmapped gap around [off, off+len): from the end of the previous
 * mapping to the start of the next. An entry for the range itself (unmap
 * asks while it is still in the table) is neither neighbour. */
static void gap_of(const shmap_window *w, uint64_t off, uint64_t len,
                   uint64_t *lo, uint64_t *hi) {
  shmap__entry *prev, *next;
  shmap__table_neighbors(&w->table, off, len, &prev, &next);
  /* External records map nothing: the gap runs on past them. */
  while (prev != NULL && prev->kind == SHMAP_MAPPING_EXTERNAL)
    prev = shmap__table_prev(&w->table, prev);
  while (next != NULL && next->kind == SHMAP_MAPPING_EXTERNAL)
    next = shmap__table_next(&w->table, next);
  *lo = prev != NULL ? prev->offset + prev->len : 0;
  *hi = next != NULL ? next->offset : w->size;
}

/* Make [off, off+len) a placeholder of its own inside its gap's. */
static int split(shmap_window *w, uint64_t off, uint64_t len) {
  uint64_t lo, hi;
  gap_of(w, off, len, &lo, &hi);
  /* One placeholder spans [lo, hi); cut at both ends of the range. */
  if (off > lo && !VirtualFree(w->base + lo, (SIZE_T)(off - lo),
                               MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
    return os_err("split", off);
  if (off + len < hi && !VirtualFree(w->base + off, (SIZE_T)len,
                                     MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
    return os_err("split", off);
  return 0;
}

/* Merge the placeholders of the gap around [off, off+len) back into one. */
static void coalesce(shmap_window *w, uint64_t off, uint64_t len) {
  uint64_t lo, hi;
  gap_of(w, off, len, &lo, &hi);
  if (hi - lo > len)
    VirtualFree(w->base + lo, (SIZE_T)(hi - lo),
                MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS);
}

static int ph_map(shmap_window *w, const shmap__entry *e) {
  int rc = split(w, e->offset, e->len);
  if (rc != 0)
    return rc;
  uint8_t *addr = w->base + e->offset;
  void *p;
  if (e->kind == SHMAP_MAPPING_ANON)
    p = virtual_alloc2(NULL, addr, (SIZE_T)e->len,
                       MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER,
                       page_prot(e->prot), NULL, 0);
  else
    p = map_view3(e->m->native, GetCurrentProcess(), addr, e->file_offset,
                  (SIZE_T)e->len, MEM_REPLACE_PLACEHOLDER, page_prot(e->prot),
                  NULL, 0);
  if (p == NULL) {
    rc = os_err("map", e->offset);
    coalesce(w, e->offset, e->len);
  }
  return rc;
}

static int ph_unmap(shmap_window *w, const shmap__entry *e) {
  uint8_t *addr = w->base + e->offset;
  BOOL ok =
      e->kind == SHMAP_MAPPING_ANON
          ? VirtualFree(addr, (SIZE_T)e->len,
                        MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER)
          : unmap_view2(GetCurrentProcess(), addr, MEM_PRESERVE_PLACEHOLDER);
  if (!ok)
    return os_err("unmap", e->offset);
  /* The entry is still in the table; gap_of looks past it. */
  coalesce(w, e->offset, e->len);
  return 0;
}

/* --------------------------------------------------------- fallback path */

/* The fallback window remembers exactly which reservations are its own:
 * while a hole is open another thread (a new thread's stack, a heap) may
 * take it, and such memory must never be released or mapped over. */

static int fb_track(fb_state *f, uint8_t *lo, uint8_t *hi) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 16;
    uint8_t **a = realloc(f->lo, cap * sizeof *a);
    if (a == NULL)
      return -1;
    f->lo = a;
    uint8_t **b = realloc(f->hi, cap * sizeof *b);
    if (b == NULL)
      return -1;
    f->hi = b;
    f->cap = cap;
  }
  f->lo[f->n] = lo;
  f->hi[f->n++] = hi;
  return 0;
}

/* Reserve [lo, hi) and remember it; 0 when someone else holds it now. */
static int fb_reserve(fb_state *f, uint8_t *lo, uint8_t *hi) {
  if (lo >= hi)
    return 1;
  if (VirtualAlloc(lo, (SIZE_T)(hi - lo), MEM_RESERVE, PAGE_NOACCESS) == NULL)
    return 0;
  if (fb_track(f, lo, hi) != 0) {
    VirtualFree(lo, 0, MEM_RELEASE);
    return 0;
  }
  return 1;
}

/* Release our reservations that meet [addr, end); report their union. */
static int fb_release_range(fb_state *f, uint8_t *addr, uint8_t *end,
                            uint8_t **ulo, uint8_t **uhi) {
  uint64_t covered = 0;
  *ulo = addr;
  *uhi = end;
  for (size_t i = 0; i < f->n;) {
    if (f->hi[i] <= addr || f->lo[i] >= end) {
      i++;
      continue;
    }
    uint8_t *a = f->lo[i] > addr ? f->lo[i] : addr;
    uint8_t *b = f->hi[i] < end ? f->hi[i] : end;
    covered += (uint64_t)(b - a);
    i++;
  }
  /* Every byte of the target must be ours before anything is released. */
  if (covered != (uint64_t)(end - addr))
    return 0;
  for (size_t i = 0; i < f->n;) {
    if (f->hi[i] <= addr || f->lo[i] >= end) {
      i++;
      continue;
    }
    if (f->lo[i] < *ulo)
      *ulo = f->lo[i];
    if (f->hi[i] > *uhi)
      *uhi = f->hi[i];
    VirtualFree(f->lo[i], 0, MEM_RELEASE);
    f->n--;
    f->lo[i] = f->lo[f->n];
    f->hi[i] = f->hi[f->n];
  }
  return 1;
}

static int fb_map_view(shmap_window *w, const shmap__entry *e) {
  fb_state *f = &w->os;
  uint8_t *addr = w->base + e->offset, *end = addr + e->len;
  DWORD access = e->prot & SHMAP_PROT_WRITE ? FILE_MAP_WRITE : FILE_MAP_READ;
  for (int attempt = 0; attempt < 16; attempt++) {
    uint8_t *lo, *hi;
    if (!fb_release_range(f, addr, end, &lo, &hi)) {
      SetLastError(ERROR_BUSY);
      return os_err("map (part of the range was taken by another "
                    "allocation while the fallback path had it open)",
                    e->offset);
    }
    /* The hole is open: close the remainders at once so that only the
     * target stays free, for as short a time as possible, then map. A part
     * a racer took in between is simply no longer ours. */
    (void)fb_reserve(f, lo, addr);
    (void)fb_reserve(f, end, hi);
    void *v =
        MapViewOfFileEx(e->m->native, access, (DWORD)(e->file_offset >> 32),
                        (DWORD)e->file_offset, (SIZE_T)e->len, addr);
    DWORD err = GetLastError();
    if (v != NULL)
      return 0;
    /* Could not map: our own range must be reserved again first. */
    if (!fb_reserve(f, addr, end) || err != ERROR_INVALID_ADDRESS) {
      SetLastError(err);
      return os_err("map", e->offset);
    }
  }
  return os_err("map", e->offset);
}

static int fb_map(shmap_window *w, const shmap__entry *e) {
  if (e->kind != SHMAP_MAPPING_ANON)
    return fb_map_view(w, e);
  /* Committing inside our own reservation opens no hole. */
  if (VirtualAlloc(w->base + e->offset, (SIZE_T)e->len, MEM_COMMIT,
                   page_prot(e->prot)) == NULL)
    return os_err("map anonymous", e->offset);
  return 0;
}

static int fb_unmap(shmap_window *w, const shmap__entry *e) {
  uint8_t *addr = w->base + e->offset;
  if (e->kind == SHMAP_MAPPING_ANON) {
    /* Decommitted pages stay reserved: nothing to re-reserve. */
    if (!VirtualFree(addr, (SIZE_T)e->len, MEM_DECOMMIT))
      return os_err("unmap anonymous", e->offset);
    return 0;
  }
  if (!UnmapViewOfFile(addr))
    return os_err("unmap", e->offset);
  if (!fb_reserve(&w->os, addr, addr + e->len)) {
    SetLastError(ERROR_BUSY);
    return os_err("unmap: re-reserving (another allocation took the range)",
                  e->offset);
  }
  return 0;
}

/* ------------------------------------------------------------ dispatch */

int shmap__os_window_map(shmap_window *w, const shmap__entry *e) {
  return w->os.placeholders ? ph_map(w, e) : fb_map(w, e);
}

int shmap__os_window_unmap(shmap_window *w, const shmap__entry *e) {
  return w->os.placeholders ? ph_unmap(w, e) : fb_unmap(w, e);
}

int shmap__os_window_protect(shmap_window *w, const shmap__entry *e,
                             unsigned prot) {
  DWORD old;
  if (!VirtualProtect(w->base + e->offset, (SIZE_T)e->len, page_prot(prot),
                      &old))
    return os_err("protect", e->offset);
  return 0;
}
