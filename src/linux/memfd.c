/* shmap — Linux mappables: sealed memfds, with the Unix shm object as the
 * fallback (a kernel before 3.17, or a build forced to shm_open); seals;
 * read-only grants by reopening through /proc. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "unix.h"

/* Shrinking would turn live mappings into SIGBUS traps for every peer;
 * growing is harmless but would make the size a peer checked a lie. */
#define SHMAP_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

#if defined(MFD_CLOEXEC) && !defined(SHMAP_FORCE_SHM_OPEN)
static int create_memfd(uint64_t size, unsigned flags, int *out) {
  /* The name from the stack, a page every call has just touched: read from
   * a cold page of the library's constants, the kernel's copy costs a
   * page walk of its own (docs/performance.md, "Design choices"). */
  const char name[] = "shmap";
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return errno == ENOSYS ? SHMAP_ENOTSUP
                           : shmap__err_sys(SHMAP_EOS, errno,
                                            "mappable create: memfd_create");
  int seals = SHMAP_SEALS;
  if (flags & SHMAP_CREATE_SEAL_SEAL)
    seals |= F_SEAL_SEAL;
  /* A memfd is born mode 0777: anyone holding a read-only descriptor could
   * reopen it O_RDWR through /proc/self/fd. SHMAP__READ_ONLY_MODE first, before
   * the descriptor can reach anyone (see share_readonly). */
  if (fchmod(fd, SHMAP__READ_ONLY_MODE) != 0 ||
      ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, seals) != 0) {
    int err = errno;
    close(fd);
    /* tmpfs out of room (ENOSPC) is memory too. */
    return shmap__err_sys(err == ENOSPC ? SHMAP_ENOMEM : SHMAP_EOS, err,
                          "mappable create: sizing memfd to 0x%" PRIx64, size);
  }
  *out = fd;
  return 0;
}
#else
static int create_memfd(uint64_t size, unsigned flags, int *out) {
  (void)size, (void)flags, (void)out;
  return SHMAP_ENOTSUP;
}
#endif

int shmap__os_mappable_create(uint64_t size, unsigned flags, int *out,
                              int *size_fixed) {
  if (size > (uint64_t)INT64_MAX)
    return shmap__err(SHMAP_EOVERFLOW,
                      "mappable create: size 0x%" PRIx64 " exceeds off_t",
                      size);
  int rc = create_memfd(size, flags, out);
  *size_fixed = rc == 0; /* sealed against shrinking and growing */
  return rc == SHMAP_ENOTSUP ? shmap__unix_shm_create(size, out) : rc;
}

/* A peer's fd may be an unsealed file it can truncate at any time. */
int shmap__os_sizes_fixed(void) { return 0; }

int shmap__os_check_sealed(int fd, int allow_unsealed, int *sealed) {
  int seals = -1;
#ifdef F_GET_SEALS
  seals = fcntl(fd, F_GET_SEALS); /* EINVAL: not a memfd */
#endif
  *sealed = seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
#if defined(MFD_CLOEXEC) && !defined(SHMAP_FORCE_SHM_OPEN)
  int by_default = 1; /* our own objects are sealed: expect it of peers */
#else
  int by_default = 0;
#endif
  if (*sealed || allow_unsealed > 0 || (allow_unsealed == 0 && !by_default))
    return 0;
  return shmap__err(SHMAP_EBACKING,
                    "received fd %d is %s: its holder can truncate it under "
                    "the mapping, and the next access dies of SIGBUS; the "
                    "peer must seal it (F_SEAL_SHRINK), or this end accept "
                    "such memory (seal_policy SHMAP_SEALS_OPTIONAL in its "
                    "shmap_backend_options / shmap_frontend_options)",
                    fd,
                    seals < 0 ? "not a sealable memfd (a regular file or shm "
                                "object)"
                              : "a memfd not sealed against shrinking");
}

int shmap__os_share_readonly(int fd, int *out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  /* Reopening gives a new open file description whose access mode is
   * O_RDONLY: mmap(PROT_WRITE, MAP_SHARED) and mprotect to write fail on it. */
  int ro = open(path, O_RDONLY | O_CLOEXEC);
  if (ro < 0)
    /* No /proc: this system cannot make the read-only reopen. */
    return shmap__err_sys(errno == ENOENT ? SHMAP_ENOTSUP : SHMAP_EOS, errno,
                          "mappable share_readonly: reopening %s", path);
  struct stat a, b;
  if (fstat(fd, &a) != 0 || fstat(ro, &b) != 0 || a.st_ino != b.st_ino ||
      a.st_dev != b.st_dev) {
    close(ro);
    return shmap__err(SHMAP_EOS,
                      "mappable share_readonly: reopened fd is another file");
  }
  /* An object shmap did not create (adopted) may still allow writing to
   * someone: the receiver could reopen the grant O_RDWR. Take the write
   * bits away, or refuse to hand out a grant that is not one. */
  if ((b.st_mode & 0222) != 0 && fchmod(ro, b.st_mode & 07555) != 0) {
    int err = errno;
    close(ro);
    return shmap__err_os(SHMAP_EPERM, err,
                         "mappable share_readonly: cannot remove the write "
                         "permission of mode 0%o (a receiver could reopen "
                         "the grant for writing)",
                         (unsigned)b.st_mode & 07777);
  }
  *out = ro;
  return 0;
}

int shmap__os_seal_writes(int fd) {
#if defined(F_ADD_SEALS)
  /* Linux 5.1: unlike F_SEAL_WRITE it leaves the creator's live writable
   * mappings alone, so it can follow them. */
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0)
    return 0;
  int err = errno;
  /* EINVAL, EPERM: this object cannot take the seal (not a sealable memfd,
   * sealed against new seals, an older kernel): not the caller's access. */
  if (err == EINVAL || err == EPERM)
    return shmap__err_os(SHMAP_ENOTSUP, err,
                         "mappable seal_writes: F_SEAL_FUTURE_WRITE on fd %d "
                         "(a memfd made with sealing allowed, not sealed "
                         "against new seals, Linux 5.1 or later)",
                         fd);
  return shmap__err_sys(SHMAP_EOS, err,
                        "mappable seal_writes: F_SEAL_FUTURE_WRITE on fd %d "
                        "(a memfd made with sealing allowed, not sealed "
                        "against new seals, Linux 5.1 or later)",
                        fd);
#else
  (void)fd;
  return shmap__err(SHMAP_ENOTSUP,
                    "mappable seal_writes: this system has no file seals");
#endif
}

void shmap__os_platform(shmap_platform_info *out) {
  out->os = "linux";
  out->memfd = 0;
  out->seals = 0;
#if defined(MFD_CLOEXEC) && !defined(SHMAP_FORCE_SHM_OPEN)
  int fd = memfd_create("shmap-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd >= 0) {
    out->memfd = 1;
    out->seals = fcntl(fd, F_ADD_SEALS, SHMAP_SEALS) == 0;
    close(fd);
  }
#endif
  out->window_path = "mmap";
}
