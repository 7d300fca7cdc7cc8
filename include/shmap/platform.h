/**
 * @file shmap/platform.h
 * Facts about the platform the library runs on: page size, mapping
 * granularity, a monotonic clock, and what the library found (memfd or shm
 * objects, seals, how windows map). Thread-safe; none of it can fail.
 */
#ifndef SHMAP_PLATFORM_H
#define SHMAP_PLATFORM_H

#include <stdint.h>

#include "shmap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Facts about the platform the library runs on (for logs and tools). */
typedef struct shmap_platform_info {
  const char *os;          /**< "linux", "windows", ... (static string) */
  uint64_t page_size;      /**< shmap_page_size() */
  uint64_t granularity;    /**< shmap_map_granularity() */
  int memfd;               /**< 1: mappables are memfds (else shm objects) */
  int seals;               /**< 1: mappables are sealed against resizing */
  const char *window_path; /**< how windows map: "mmap", "placeholder",
                                "fallback" (static string) */
  uint64_t reserved[6];    /**< zeroed by the library: room to grow */
} shmap_platform_info;

/**
 * Fill `*out` with what the library found about the system. Nothing to free:
 * the strings are static. Thread-safe; cannot fail.
 */
SHMAP_API void shmap_platform(shmap_platform_info *out);

/**
 * A monotonic clock in nanoseconds (clock_gettime(CLOCK_MONOTONIC) /
 * QueryPerformanceCounter), for latency reports. Thread-safe; cannot fail.
 */
SHMAP_API uint64_t shmap_time_ns(void);

/**
 * The page size. Thread-safe; cannot fail.
 */
SHMAP_API uint64_t shmap_page_size(void);
/**
 * The granularity that offsets and lengths in mappables and windows must be
 * multiples of: the page size on POSIX, the 64 KiB allocation granularity
 * on Windows (where views can only start there). Thread-safe; cannot fail.
 */
SHMAP_API uint64_t shmap_map_granularity(void);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_PLATFORM_H */
