/* shmap benchmarks — peer libraries doing the same job as shmap, measured in
 * the same run. Each peer lives in its own file and is compiled only when
 * CMake found the library (SHMAP_BENCH_GLIB, SHMAP_BENCH_BOOST). The functions
 * return nanoseconds per operation, or a negative number after printing why
 * they failed. This header is shared by C and C++. */
#ifndef SHMAP_BENCH_PEERS_H
#define SHMAP_BENCH_PEERS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The bench's monotonic clock (bench_posix.c). */
double bench_now_ns(void);

/* GLib/GIO: the ADD_MEM_REG + REM_MEM_REG exchange done with a GSocket pair.
 * A 52-byte request carries a memfd in a GUnixFDMessage; the receiver reads
 * the 12-byte header with the descriptor and the 40-byte body, fstat()s and
 * mmap()s the descriptor and sends a 20-byte reply; then a second 52-byte
 * request without a descriptor, its 20-byte reply, munmap and close. */
double bench_peer_glib_fd_round_trip(int iters);

/* Boost.Interprocess: create a shared memory object of `len` bytes
 * (shared_memory_object + truncate), map it whole (mapped_region), write one
 * byte, unmap, close and remove it. */
double bench_peer_boost_create_map_unmap(uint64_t len, int iters);

#ifdef __cplusplus
}
#endif
#endif
