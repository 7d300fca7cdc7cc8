/* shmap — Windows mappables: pagefile-backed SEC_COMMIT sections.
 *
 * Sections are created with a DACL that grants everyone, the owner
 * included, only query and map-read: the creating handle keeps full access
 * (creation grants what was asked), but any later DuplicateHandle that asks
 * for more than its source handle had is checked against this DACL and
 * refused, so a read-only grant cannot be turned back into a writable one.
 */
#include <inttypes.h>

#include "internal.h"

#include <sddl.h> /* after <windows.h> (internal.h), which it needs */

/* ntdll pieces mingw-w64 does not declare for user mode. */
typedef LONG nt_status;
typedef struct {
  PVOID base;
  ULONG attributes;
  LARGE_INTEGER size;
} section_basic_info;
typedef struct {
  ULONG attributes;
  ACCESS_MASK granted;
  ULONG handles, pointers, reserved[10];
} object_basic_info;
typedef nt_status(NTAPI *query_section_fn)(HANDLE, int, PVOID, SIZE_T, PSIZE_T);
typedef nt_status(NTAPI *query_object_fn)(HANDLE, int, PVOID, ULONG, PULONG);

#define SECTION_BASIC_INFORMATION 0
#define OBJECT_BASIC_INFORMATION 0
#define NT_OBJECT_TYPE_MISMATCH ((nt_status)0xC0000024L)
#define NT_INVALID_HANDLE ((nt_status)0xC0000008L)
#define SHMAP_SEC_IMAGE 0x1000000
#define SHMAP_SEC_RESERVE 0x4000000
#define SHMAP_SEC_COMMIT 0x8000000

static query_section_fn query_section;
static query_object_fn query_object;

static BOOL CALLBACK resolve(INIT_ONCE *once, void *param, void **ctx) {
  (void)once, (void)param, (void)ctx;
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  if (nt != NULL) {
    query_section =
        (query_section_fn)(void (*)(void))GetProcAddress(nt, "NtQuerySection");
    query_object =
        (query_object_fn)(void (*)(void))GetProcAddress(nt, "NtQueryObject");
  }
  return TRUE;
}

static void ntdll(void) {
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  InitOnceExecuteOnce(&once, resolve, NULL, NULL);
}

/* The sections' security descriptor: the same for every section, so it is
 * built once and kept for the life of the process. P: protected (no
 * inherited ACEs); OW: OWNER RIGHTS, so the owner gets no implicit
 * WRITE_DAC to undo this; WD: everyone. 0x5 is SECTION_QUERY |
 * SECTION_MAP_READ. A failure is not remembered: the next create tries
 * again. */
static BOOL CALLBACK build_sd(INIT_ONCE *once, void *err, void **sd) {
  (void)once;
  if (ConvertStringSecurityDescriptorToSecurityDescriptorW(
          L"D:P(A;;0x5;;;OW)(A;;0x5;;;WD)", SDDL_REVISION_1, sd, NULL))
    return TRUE;
  *(DWORD *)err = GetLastError();
  return FALSE;
}

static PSECURITY_DESCRIPTOR section_sd(DWORD *err) {
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  void *sd = NULL;
  *err = ERROR_SUCCESS;
  if (!InitOnceExecuteOnce(&once, build_sd, err, &sd))
    return NULL;
  return sd;
}

/* A section's size is fixed when it is created. */
int shmap__os_sizes_fixed(void) { return 1; }

int shmap__os_mappable_create(uint64_t size, unsigned flags, HANDLE *out,
                              int *size_fixed) {
  *size_fixed = 1;
  (void)flags; /* sections cannot be resized: nothing to seal */
  if (size > (uint64_t)INT64_MAX)
    return shmap__err(SHMAP_EOVERFLOW,
                      "mappable create: size 0x%" PRIx64
                      " exceeds a section's signed 64-bit size",
                      size);
  DWORD err;
  SECURITY_ATTRIBUTES sa = {sizeof sa, section_sd(&err), FALSE};
  if (sa.lpSecurityDescriptor == NULL)
    return shmap__err_sys(SHMAP_EOS, (int)err,
                          "mappable create: building the section DACL");
  HANDLE h =
      CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE | SEC_COMMIT,
                         (DWORD)(size >> 32), (DWORD)size, NULL);
  err = GetLastError();
  if (h == NULL)
    return shmap__err_sys(SHMAP_EOS, (int)err,
                          "mappable create: section of 0x%" PRIx64, size);
  *out = h;
  return 0;
}

int shmap__os_mappable_query(HANDLE h, uint64_t *size, unsigned *access,
                             int *committed) {
  ntdll();
  if (h == NULL || h == INVALID_HANDLE_VALUE)
    return shmap__err_os(SHMAP_EBADF, ERROR_INVALID_HANDLE,
                         "mappable: no handle");
  if (query_section == NULL || query_object == NULL)
    return shmap__err(SHMAP_ENOTSUP, "mappable: ntdll lacks NtQuerySection");
  object_basic_info obi;
  nt_status st = 0;
  if (access != NULL && (st = query_object(h, OBJECT_BASIC_INFORMATION, &obi,
                                           sizeof obi, NULL)) < 0)
    return shmap__err_os(SHMAP_EBADF, (int)st,
                         "mappable: handle %p is not open", h);
  section_basic_info sbi;
  st = query_section(h, SECTION_BASIC_INFORMATION, &sbi, sizeof sbi, NULL);
  if (st == NT_OBJECT_TYPE_MISMATCH || st == NT_INVALID_HANDLE)
    return shmap__err_os(SHMAP_EBADF, (int)st,
                         "mappable: handle %p is not a section", h);
  if (st < 0)
    return shmap__err_os(SHMAP_EOS, (int)st, "mappable: NtQuerySection on %p",
                         h);
  *size = (uint64_t)sbi.size.QuadPart;
  if (access != NULL) {
    if (!(obi.granted & SECTION_MAP_READ))
      return shmap__err(SHMAP_EBADF, "mappable: handle %p cannot map", h);
    *access = obi.granted & SECTION_MAP_WRITE ? SHMAP_PROT_RW : SHMAP_PROT_READ;
  }
  /* Only SEC_COMMIT backing is there for every byte; SEC_RESERVE pages
   * fault until someone commits them, image sections are not ours. */
  *committed = (sbi.attributes & (SHMAP_SEC_RESERVE | SHMAP_SEC_IMAGE)) == 0;
  return 0;
}

int shmap__os_native_dup(HANDLE h, HANDLE *out) {
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), out, 0,
                       FALSE, DUPLICATE_SAME_ACCESS))
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(),
                          "mappable: duplicating handle %p", h);
  return 0;
}

int shmap__os_share_readonly(HANDLE h, HANDLE *out) {
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), out,
                       SECTION_QUERY | SECTION_MAP_READ, FALSE, 0))
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(),
                          "mappable share_readonly: duplicating %p", h);
  return 0;
}

int shmap__os_seal_writes(HANDLE h) {
  (void)h;
  return shmap__err(SHMAP_ENOTSUP,
                    "mappable seal_writes: sections cannot be sealed (a "
                    "read-only grant is a handle without SECTION_MAP_WRITE)");
}

/* Sections cannot shrink: whatever a peer sends keeps backing every view
 * (the receiver's sealing policy is a no-op here). */
int shmap__os_check_sealed(HANDLE h, int allow_unsealed, int *sealed) {
  (void)h;
  (void)allow_unsealed;
  *sealed = 1;
  return 0;
}
