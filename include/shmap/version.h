/**
 * @file shmap/version.h
 * Version numbers and the export macro shared by every public header.
 *
 * The macros describe the headers being compiled against; shmap_version()
 * and shmap_version_string() describe the library the program runs with. A
 * program can compare the two to notice that it was built against other
 * headers than the library it loaded. While the major version is 0, a minor
 * release may change the API and the ABI.
 */
#ifndef SHMAP_VERSION_H
#define SHMAP_VERSION_H

/**
 * Major version. The shared library's SONAME carries it, and while it is 0
 * the minor version too: libshmap.so.0.1 (from 1.0 on, libshmap.so.1). The
 * Windows DLL is libshmap.dll whatever the version.
 */
#define SHMAP_VERSION_MAJOR 0
/** Minor version: may break compatibility while the major version is 0. */
#define SHMAP_VERSION_MINOR 1
/** Patch version: fixes only. */
#define SHMAP_VERSION_PATCH 0
/** The three numbers as "MAJOR.MINOR.PATCH". */
#define SHMAP_VERSION_STRING "0.1.0"
/**
 * The three numbers as one integer, (MAJOR << 16) | (MINOR << 8) | PATCH,
 * which orders versions: 0.1.0 is 0x000100. The value shmap_version()
 * returns has the same layout.
 */
#define SHMAP_VERSION_HEX                                                      \
  ((SHMAP_VERSION_MAJOR << 16) | (SHMAP_VERSION_MINOR << 8) |                  \
   SHMAP_VERSION_PATCH)

/**
 * @def SHMAP_API
 * Marks the exported functions. The library itself is built with
 * SHMAP_BUILDING defined and hidden default visibility, so nothing else is
 * exported. Users of the static library define SHMAP_STATIC so that Windows
 * builds do not expect a DLL import (the CMake target shmap::shmap_static and
 * shmap_static.pc do this for them).
 */
#if defined(_WIN32) && !defined(SHMAP_STATIC)
#  if defined(SHMAP_BUILDING)
#    define SHMAP_API __declspec(dllexport)
#  else
#    define SHMAP_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && defined(SHMAP_BUILDING)
#  define SHMAP_API __attribute__((visibility("default")))
#else
#  define SHMAP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The version of the library running, (major << 16) | (minor << 8) | patch:
 * the layout of #SHMAP_VERSION_HEX, against which it can be compared.
 *
 * Never fails; thread-safe; sets no error state.
 */
SHMAP_API unsigned shmap_version(void);

/**
 * The version of the library running as "MAJOR.MINOR.PATCH", the form of
 * #SHMAP_VERSION_STRING.
 *
 * Returns a static string: never NULL, never freed. Thread-safe; sets no
 * error state.
 */
SHMAP_API const char *shmap_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMAP_VERSION_H */
