/* POSIX-only mappable behaviour: seals, descriptor kinds, access modes. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

SHMAP_TEST(posix_mappable, created_memfd_is_sealed) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(8192, 0, &m));
  int fd = shmap_mappable_native(m);
  cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
#ifndef SHMAP_TEST_SHM_OPEN
  int seals = fcntl(fd, F_GET_SEALS);
  cr_assert(seals & F_SEAL_SHRINK);
  cr_assert(seals & F_SEAL_GROW);
  cr_assert(!(seals & F_SEAL_SEAL));
  cr_assert_neq(ftruncate(fd, 4096), 0, "shrinking a sealed memfd fails");
  cr_assert_neq(ftruncate(fd, 1 << 20), 0, "growing a sealed memfd fails");
  shmap_mappable *s;
  ASSERT_OK(shmap_mappable_create(4096, SHMAP_CREATE_SEAL_SEAL, &s));
  cr_assert(fcntl(shmap_mappable_native(s), F_GET_SEALS) & F_SEAL_SEAL);
  shmap_mappable_unref(s);
#endif
  shmap_mappable_unref(m);
}

SHMAP_TEST(posix_mappable, wrong_kinds_are_rejected) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  shmap_mappable *m = NULL;
  ASSERT_ERR(shmap_mappable_adopt(p[0], &m), SHMAP_EBADF);
  ASSERT_ERR(shmap_mappable_dup(p[1], &m), SHMAP_EBADF);
  int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cr_assert(dir >= 0);
  ASSERT_ERR(shmap_mappable_adopt(dir, &m), SHMAP_EBADF);
  cr_assert_null(m);
  /* On failure the caller still owns what it passed. */
  cr_assert(test_native_is_open(p[0]) && test_native_is_open(dir));
  close(p[0]);
  close(p[1]);
  close(dir);
  ASSERT_ERR(shmap_mappable_adopt(p[0], &m), SHMAP_EBADF);
}

SHMAP_TEST(posix_mappable, access_modes) {
  char path[] = "/tmp/shmap-test-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(ftruncate(fd, 8192), 0);
  int wo = open(path, O_WRONLY | O_CLOEXEC);
  int ro = open(path, O_RDONLY | O_CLOEXEC);
  unlink(path);
  shmap_mappable *m;
  shmap_window *w;
  /* A write-only fd is adopted (only its size is read) but no mapping of
   * it can exist: mmap needs read access, and the access query says so. */
  ASSERT_OK(shmap_mappable_adopt(wo, &m));
  cr_assert_eq(shmap_mappable_access(m), SHMAP_PROT_NONE);
  ASSERT_OK(shmap_window_reserve(4 * 4096, 0, &w));
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, 8192, SHMAP_PROT_READ), SHMAP_EACCES);
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, 8192, SHMAP_PROT_RW), SHMAP_EACCES);
  cr_assert(test_range_reserved(shmap_window_base(w), 4 * 4096));
  shmap_window_release(w);
  shmap_mappable_unref(m);
  ASSERT_OK(shmap_mappable_adopt(ro, &m));
  cr_assert_eq(shmap_mappable_access(m), SHMAP_PROT_READ);
  cr_assert_eq(shmap_mappable_size(m), 8192);
  shmap_mappable_unref(m);
  /* A regular file is a fine mappable; its size is checked when mapping. */
  ASSERT_OK(shmap_mappable_adopt(fd, &m));
  cr_assert_eq(shmap_mappable_access(m), SHMAP_PROT_RW);
  ASSERT_OK(shmap_window_reserve(4 * 4096, 0, &w));
  ASSERT_OK(shmap_window_map(w, 0, m, 0, 8192, SHMAP_PROT_RW));
  /* The file shrinks behind the mappable's back: the range check sees it. */
  cr_assert_eq(ftruncate(fd, 4096), 0);
  ASSERT_ERR(shmap_mappable_check_range(m, 0, 8192), SHMAP_EBACKING);
  ASSERT_ERR(shmap_window_map(w, 2 * 4096, m, 0, 8192, SHMAP_PROT_RW),
             SHMAP_EBACKING);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(posix_mappable, first_map_long_after_adopt_checks_again) {
  /* adopt reads the size; a map right after may use it, but one a clock
   * tick or more later asks the file again and sees it shrank. */
  char path[] = "/tmp/shmap-test-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  unlink(path);
  cr_assert_eq(ftruncate(fd, 8192), 0);
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_adopt(fd, &m));
  cr_assert_eq(shmap_mappable_size(m), 8192);
  cr_assert_eq(ftruncate(fd, 4096), 0);
  struct timespec nap = {0, 30 * 1000 * 1000}; /* over any clock tick */
  nanosleep(&nap, NULL);
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(4 * 4096, 0, &w));
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, 8192, SHMAP_PROT_RW), SHMAP_EBACKING);
  cr_assert(test_range_reserved(shmap_window_base(w), 4 * 4096));
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(posix_mappable, readonly_share_is_readonly) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4096, 0, &m));
  int ro;
  ASSERT_OK(shmap_mappable_share_readonly(m, &ro));
  cr_assert_eq(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
  cr_assert(fcntl(ro, F_GETFD) & FD_CLOEXEC);
  shmap_native_close(ro);
  shmap_mappable_unref(m);
}

SHMAP_TEST(posix_mappable, write_sealed_memfd_is_readonly) {
  int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  cr_assert(fd >= 0);
  cr_assert_eq(ftruncate(fd, 4096), 0);
  cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_adopt(fd, &m));
  cr_assert_eq(shmap_mappable_access(m), SHMAP_PROT_READ);
  shmap_mappable_unref(m);
}

SHMAP_TEST(posix_mappable, readonly_share_takes_write_permission_away) {
  /* Created objects carry no write permission; an adopted memfd (born mode
   * 0777) loses its write bits when shared read-only, so no receiver can
   * reopen the grant O_RDWR through /proc (process::
   * readonly_grant_cannot_write tries that as another user). */
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4096, 0, &m));
  struct stat st;
  cr_assert_eq(fstat(shmap_mappable_native(m), &st), 0);
  cr_assert_eq(st.st_mode & 0222, 0, "created with mode 0%o",
               st.st_mode & 07777);
  shmap_mappable_unref(m);
  int fd = memfd_create("t", MFD_CLOEXEC);
  cr_assert(fd >= 0);
  cr_assert_eq(ftruncate(fd, 4096), 0);
  ASSERT_OK(shmap_mappable_adopt(fd, &m));
  int ro;
  ASSERT_OK(shmap_mappable_share_readonly(m, &ro));
  cr_assert_eq(fstat(ro, &st), 0);
  cr_assert_eq(st.st_mode & 0222, 0, "shared with mode 0%o",
               st.st_mode & 07777);
  /* The holder's own read-write descriptor still writes. */
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  cr_assert_neq(p, MAP_FAILED);
  *(volatile char *)p = 1;
  munmap(p, 4096);
  shmap_native_close(ro);
  shmap_mappable_unref(m);
}
