/* shmap — Unix mappables: what every Unix does with a memory object's
 * descriptor (query, duplicate), and unlinked shm objects, the one kind
 * of shared memory object POSIX itself has. Making the objects, sealing
 * them and handing out read-only grants is the OS directory's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "unix.h"

/* An shm object with an unguessable name that exists in the namespace only
 * between shm_open and shm_unlink. */
int shmap__unix_shm_create(uint64_t size, int *out) {
  for (int attempt = 0; attempt < 16; attempt++) {
    uint64_t r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
      r = (uint64_t)time(NULL) * 2654435761u + (uint64_t)attempt;
    char name[64];
    snprintf(name, sizeof name, "/shmap-%ld-%016" PRIx64, (long)getpid(), r);
    /* Created read-only-moded: O_CREAT grants the creator O_RDWR anyway. */
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                      SHMAP__READ_ONLY_MODE);
    if (fd < 0 && errno == EEXIST)
      continue;
    if (fd < 0)
      return shmap__err_sys(SHMAP_EOS, errno, "mappable create: shm_open");
    shm_unlink(name);
    if (ftruncate(fd, (off_t)size) != 0) {
      int err = errno;
      close(fd);
      return shmap__err_sys(SHMAP_ENOMEM, err,
                            "mappable create: sizing shm object to 0x%" PRIx64,
                            size);
    }
    *out = fd;
    return 0;
  }
  return shmap__err(SHMAP_EOS, "mappable create: no free shm name");
}

int shmap__os_mappable_query(int fd, uint64_t *size, unsigned *access,
                             int *committed) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    return shmap__err_sys(SHMAP_EOS, fd < 0 ? EBADF : errno,
                          "mappable: fstat on fd %d", fd);
  /* memfds and shm objects are regular files on tmpfs; pipes, sockets,
   * directories and devices are not memory a peer can rely on. */
  if (!S_ISREG(st.st_mode))
    return shmap__err(SHMAP_EBADF,
                      "mappable: fd %d is not a regular file or memfd (mode "
                      "0%o)",
                      fd, (unsigned)st.st_mode & S_IFMT);
  *size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
  /* tmpfs and regular files are demand-paged: every byte below st_size is
   * backing the kernel will provide. */
  *committed = 1;
  if (access == NULL)
    return 0;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return shmap__err_sys(SHMAP_EOS, errno, "mappable: F_GETFL on fd %d", fd);
  if ((fl & O_ACCMODE) == O_WRONLY)
    return shmap__err(SHMAP_EBADF, "mappable: fd %d is write-only", fd);
  unsigned acc = (fl & O_ACCMODE) == O_RDWR ? SHMAP_PROT_RW : SHMAP_PROT_READ;
#ifdef F_GET_SEALS
  int seals = fcntl(fd, F_GET_SEALS);
  /* A write seal makes every new writable shared mapping fail. */
  if (seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
    acc = SHMAP_PROT_READ;
#endif
  *access = acc;
  return 0;
}

int shmap__os_native_dup(int fd, int *out) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    return shmap__err_sys(SHMAP_EOS, errno, "mappable: duplicating fd %d", fd);
  *out = copy;
  return 0;
}
