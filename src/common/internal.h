/* shmap — the library's internal headers, all of them: what a file of
 * src/common or of a platform directory includes when it needs most of
 * them. Nothing here is part of the public API. Each part stands on its
 * own (tests/internal_headers_test.sh compiles each alone), so a file
 * that needs one concern can include just that:
 *
 *   compiler.h     attributes (printf formats, cold, flatten, noinline)
 *   errors.h       recording errors, translating OS errors
 *   checks.h       ranges, options structs, seal policies
 *   table.h        a window's mapping table
 *   xlat.h         a window's translation index
 *   objects.h      the mappable and window structs, guest-range walks
 *   codec.h        wire-codec internals for channels
 *   chan.h         channels and the shared serve loop
 *   os_contract.h  the OS seam each platform implements (with its os.h)
 *   guard.h        fault-safe access: common bookkeeping and its OS part
 *
 * The platform's directories (src/unix and src/linux, or src/win32) are on
 * the include path; one of them provides "os.h" with the types the
 * contract names. That is how common code stays free of #ifdef _WIN32.
 */
#ifndef SHMAP_INTERNAL_H
#define SHMAP_INTERNAL_H

#include "chan.h"
#include "checks.h"
#include "codec.h"
#include "compiler.h"
#include "errors.h"
#include "guard.h"
#include "objects.h"
#include "os_contract.h"
#include "table.h"
#include "xlat.h"

#endif /* SHMAP_INTERNAL_H */
