/* shmap — version numbers and the export macro shared by every public header. */
#ifndef SHMAP_VERSION_H
#define SHMAP_VERSION_H

#define SHMAP_VERSION_MAJOR 0
#define SHMAP_VERSION_MINOR 1
#define SHMAP_VERSION_PATCH 0
#define SHMAP_VERSION_STRING "0.1.0"

/* SHMAP_API marks the exported functions. The library itself is built with
 * SHMAP_BUILDING defined and hidden default visibility, so nothing else is
 * exported. Users of the static library define SHMAP_STATIC (the CMake
 * package and shmap.pc do this for them). */
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

#endif /* SHMAP_VERSION_H */
