/**
 * @file shmap/version.h
 * Version numbers and the export macro shared by every public header.
 *
 * The numbers describe the headers being compiled against; while the major
 * version is 0, a minor release may change the API and the ABI.
 */
#ifndef SHMAP_VERSION_H
#define SHMAP_VERSION_H

/** Major version; the shared library's SONAME carries it (libshmap.so.0). */
#define SHMAP_VERSION_MAJOR 0
/** Minor version: may break compatibility while the major version is 0. */
#define SHMAP_VERSION_MINOR 1
/** Patch version: fixes only. */
#define SHMAP_VERSION_PATCH 0
/** The three numbers as "MAJOR.MINOR.PATCH". */
#define SHMAP_VERSION_STRING "0.1.0"

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

#endif /* SHMAP_VERSION_H */
