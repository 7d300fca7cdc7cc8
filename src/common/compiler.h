/* shmap — compiler attributes used across the library. Nothing here is
 * part of the public API. */
#ifndef SHMAP_COMPILER_H
#define SHMAP_COMPILER_H

#if defined(__MINGW32__)
/* mingw's C99 stdio (__USE_MINGW_ANSI_STDIO) takes the GNU formats. */
#  define SHMAP__PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#  define SHMAP__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define SHMAP__PRINTF(a, b)
#endif

/* Errors are the rare path: the compiler lays out a branch that reports one
 * away from the code around it (a .cold part), so the valid path, which
 * mostly runs between two system calls with little of it in the caches,
 * stays dense. */
#if defined(__GNUC__)
#  define SHMAP__COLD __attribute__((cold))
#else
#  define SHMAP__COLD
#endif

/* The entry points a request goes through (serving one, sending one,
 * waiting for a reply, mapping and unmapping, creating, adopting and
 * dropping a mappable): everything they call is inlined into them, across
 * files when the shared library is built with LTO, so that their system
 * calls are made from their own frame. Where a system call's return clears
 * the return-stack predictor (the benchmark VM does: docs/performance.md),
 * each frame a system call happened under costs a mispredicted return when
 * it unwinds, and the layers between an entry point and the OS were most
 * of what a round trip cost beyond the bare calls. Optimised builds only:
 * a debug build keeps its frames. The variadic error reporters are never
 * inlined. */
#if defined(__GNUC__) && defined(__OPTIMIZE__)
#  define SHMAP__FLATTEN __attribute__((flatten))
#else
#  define SHMAP__FLATTEN
#endif
/* What flattening must leave out: work that makes no system call (the
 * codec, the mapping table, the translation index), whose frames therefore
 * cost nothing, and which would otherwise be copied, recursion and all,
 * into every entry point; and rare requests (SET_MEM_TABLE). */
#if defined(__GNUC__)
#  define SHMAP__NOINLINE __attribute__((noinline))
#else
#  define SHMAP__NOINLINE
#endif

#endif /* SHMAP_COMPILER_H */
