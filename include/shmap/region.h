/* shmap — shareable regions and the two protocol endpoints.
 *
 * A shareable region ties the layers together: guest addresses
 * [guest_address, guest_address+size) are backed by bytes
 * [file_offset, file_offset+size) of a mappable. The producer promises the
 * backing is committed; the library checks what the OS lets it check.
 *
 * The back end keeps a guest-memory window and maps every region it is sent
 * at offset guest_address; the front end keeps shared-memory windows (virtio
 * shared memory regions, by shmid) into which the back end asks it to map
 * its buffers.
 */
#ifndef SHMAP_REGION_H
#define SHMAP_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/channel.h"
#include "shmap/window.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmap_region {
  uint64_t guest_address;
  uint64_t size;
  shmap_mappable *mappable; /* borrowed */
  uint64_t file_offset;
} shmap_region;

/* Check a region before sharing it: non-NULL mappable, size > 0, no
 * overflow, offsets granularity-aligned, backing covers the range. */
SHMAP_API int shmap_region_check(const shmap_region *r);

/* ---- front end: sending regions ---- */

/* Send ADD_MEM_REG for `r` with its descriptor and wait for the reply.
 * Returns 0, the back end's error (as sent in its reply), or a local error. */
SHMAP_API int shmap_frontend_add_region(shmap_channel *ch,
                                        const shmap_region *r);
/* Send REM_MEM_REG for `r` (guest address and size must match exactly what
 * was added) and wait for the reply. */
SHMAP_API int shmap_frontend_remove_region(shmap_channel *ch,
                                           const shmap_region *r);
/* Replace the back end's whole table with regions[0..n) (1 <= n <= 8) in one
 * SET_MEM_TABLE, and wait for the reply. */
SHMAP_API int shmap_frontend_set_mem_table(shmap_channel *ch,
                                           const shmap_region *regions,
                                           size_t n);

/* ---- front end: applying the back end's shared-memory requests ---- */

typedef struct shmap_frontend shmap_frontend;

SHMAP_API int shmap_frontend_create(shmap_frontend **out);
/* Forget every window (they stay the caller's) and free. */
SHMAP_API void shmap_frontend_destroy(shmap_frontend *fe);
/* Let the back end map into window `w` under `shmid` (borrowed; it must
 * outlive the front end). Errors: EINVAL, EOVERLAP (shmid taken). */
SHMAP_API int shmap_frontend_add_window(shmap_frontend *fe, uint8_t shmid,
                                        shmap_window *w);

/* What one received message did, for logs and tools. */
typedef struct shmap_event {
  uint32_t request;   /* request code */
  int result;         /* 0 or the negative error code replied */
  shmap_wire_msg msg; /* the decoded message (zeroed when undecodable) */
  void *head;         /* for a new mapping: its first byte, else NULL */
} shmap_event;

/* Receive one message (SHMEM_MAP, SHMEM_UNMAP, EXTERNAL_MAP), apply it to
 * the matching window, and reply as WIRE.md says. A rejected request
 * changes no window and is answered with its error; the return value is
 * then 0 (the channel is fine) and ev->result holds the error. A framing or
 * transport error (bad header, peer gone) is returned. */
SHMAP_API int shmap_frontend_serve_one(shmap_frontend *fe, shmap_channel *ch,
                                       shmap_event *ev);

/* ---- back end ---- */

typedef struct shmap_backend shmap_backend;

/* A back end mapping guest regions into `guest` (borrowed) at offset =
 * guest address. `max_bytes` caps the total it will map for the peer
 * (0: no cap). */
SHMAP_API int shmap_backend_create(shmap_window *guest, uint64_t max_bytes,
                                   shmap_backend **out);
/* Unmap every region it mapped and free. */
SHMAP_API void shmap_backend_destroy(shmap_backend *be);
/* Number of regions currently mapped. */
SHMAP_API size_t shmap_backend_count(const shmap_backend *be);

/* Receive one message (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG,
 * GET_MAX_MEM_SLOTS), apply it and reply when asked to. Same return
 * convention as shmap_frontend_serve_one. */
SHMAP_API int shmap_backend_serve_one(shmap_backend *be, shmap_channel *ch,
                                      shmap_event *ev);

/* Ask the front end to map [fd_offset, fd_offset+len) of `m` at
 * `shm_offset` of its window `shmid`, read-write when `writable`, and wait
 * for its reply. */
SHMAP_API int shmap_backend_shmem_map(shmap_channel *ch, uint8_t shmid,
                                      shmap_mappable *m, uint64_t fd_offset,
                                      uint64_t shm_offset, uint64_t len,
                                      int writable);
/* Ask the front end to unmap exactly that mapping, and wait. */
SHMAP_API int shmap_backend_shmem_unmap(shmap_channel *ch, uint8_t shmid,
                                        uint64_t shm_offset, uint64_t len);
/* In-process only: record [ptr, ptr+len) at `shm_offset` of window `shmid`
 * (EXTERNAL_MAP), and wait for the reply. */
SHMAP_API int shmap_backend_external_map(shmap_channel *ch, uint8_t shmid,
                                         uint64_t shm_offset, uint64_t len,
                                         void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_REGION_H */
