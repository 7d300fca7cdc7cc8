/* shmap — the Unix part's own seam: what src/unix shares between its files
 * and what it asks of the OS directory built beside it (src/linux today).
 *
 * src/unix is POSIX.1-2008 plus extensions Linux has and the BSDs mostly
 * share: accept4, SOCK_CLOEXEC, MSG_CMSG_CLOEXEC, MSG_NOSIGNAL,
 * MAP_ANONYMOUS, getrandom (not on OpenBSD), MAP_NORESERVE (not on
 * FreeBSD, where it can be 0), and F_GET_SEALS where the headers have it.
 * A port to a Unix that lacks one (macOS lacks several) supplies an
 * equivalent in its own directory. Everything else the OS contract
 * (os_contract.h) asks that differs between Unixes (how memory objects
 * are made and sealed, how a read-only grant is made, who the peer is,
 * limits on mapped areas) the OS directory implements: the list ends this
 * file.
 */
#ifndef SHMAP_UNIX_H
#define SHMAP_UNIX_H

#include <fcntl.h>
#include <stdint.h>

/* File seals, where the system has them (Linux; F_GET_SEALS on FreeBSD):
 * Linux 5.1's F_SEAL_FUTURE_WRITE is missing from older headers. */
#if defined(F_ADD_SEALS) && !defined(F_SEAL_FUTURE_WRITE)
#  define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* The file mode of every object shmap creates: no write permission for
 * anyone. Descriptors already open keep the access they were opened with
 * (the creator's O_RDWR one keeps working); what the mode stops is a new
 * open for writing, which is how a receiver would turn a read-only grant
 * into a writable one (O_RDWR through its /proc/self/fd/N). Root passes
 * the check anyway (CAP_DAC_OVERRIDE), and a process of the object's own
 * uid could fchmod it back: the grant holds against other users (against
 * the same user once the memory is write-sealed: seal_writes). */
#define SHMAP__READ_ONLY_MODE 0400

/* An unlinked shm object of `size` zeroed bytes, mode SHMAP__READ_ONLY_MODE
 * (its creator's descriptor is O_RDWR all the same): the object every Unix
 * can make. Post: *out owned by the caller, close-on-exec. Errors: ENOMEM
 * (sizing failed), EOS. unix/mappable.c. */
int shmap__unix_shm_create(uint64_t size, int *out);

/* ---- what the OS directory provides to src/unix ---- */

/* A process's limit on mapped areas (Linux: vm.max_map_count), which an
 * unmap may need room under (linux/maplimit.c). An OS without such a
 * limit returns 0 from all three. */
/* Called before every window's reservation, from any thread. */
void shmap__unix_maps_start(void);
/* Before every map: 0, or SHMAP_ELIMIT (recorded, naming `offset`) when the
 * process is too near its limit for later unmaps to be sure to work. */
int shmap__unix_maps_check(uint64_t offset);
/* An mmap that puts reservation back failed with ENOMEM: free areas the
 * OS part holds for that moment and return how many went (0: none left;
 * the caller gives up). */
int shmap__unix_maps_relieve(void);

/* Also the OS directory's, declared in os_contract.h:
 * shmap__os_mappable_create, shmap__os_sizes_fixed, shmap__os_check_sealed,
 * shmap__os_seal_writes, shmap__os_share_readonly, shmap__os_platform,
 * shmap__os_peer_check. */

#endif /* SHMAP_UNIX_H */
