/* shmap — the version of the library itself, for programs that want to know
 * which one they loaded (the macros in version.h say which headers they were
 * compiled against). */
#include "shmap.h"

/* The numbers are the project's (CMakeLists.txt) through version.h: a
 * release changes both together, and tests/test_version.c compares them. */
_Static_assert(SHMAP_VERSION_HEX >> 16 == SHMAP_VERSION_MAJOR &&
                   (SHMAP_VERSION_HEX >> 8 & 0xff) == SHMAP_VERSION_MINOR &&
                   (SHMAP_VERSION_HEX & 0xff) == SHMAP_VERSION_PATCH,
               "each number fits its field of shmap_version()");

unsigned shmap_version(void) { return (unsigned)SHMAP_VERSION_HEX; }

const char *shmap_version_string(void) { return SHMAP_VERSION_STRING; }
