/**
 * @file shmap.h
 * Umbrella header: includes every layer of the public API.
 *
 * @mainpage shmap
 *
 * shmap lets a hypervisor front end (a VMM) and its out-of-process device
 * back ends share guest memory, on Linux and on Windows, through one API in
 * three layers:
 *
 * - platform.h — page size, mapping granularity, a monotonic clock;
 * - mappable.h — a reference-counted owner of one OS memory object (a memfd
 *   or shm descriptor, a section handle);
 * - window.h — reserved address space that mappables, anonymous memory and
 *   external pointer ranges are mapped into and out of at offsets, and that
 *   translates offsets to host pointers;
 * - wire.h, channel.h, region.h, frontend.h, backend.h — the memory subset
 *   of vhost-user: the codec, a channel that carries the descriptors with
 *   the messages, what both endpoints share (regions, events, replies), and
 *   the front-end and back-end endpoints that apply the messages to windows.
 *
 * Conventions every header follows:
 *
 * - Errors: a fallible call returns 0 or a negative SHMAP_E* code
 *   (error.h) and leaves everything as it was: no mapping, reference or
 *   descriptor is gained or lost. shmap_last_message() says what was wrong.
 *   A NULL handle or out pointer is an SHMAP_EINVAL, not a crash.
 * - Ownership: a `**out` result belongs to the caller, who ends it with the
 *   matching unref/release/destroy/close; a pointer the library returns
 *   without `out` is borrowed. A "destroy" of NULL does nothing.
 * - Growth: structs the library fills end in reserved room it zeroes;
 *   structs the caller fills end in reserved room the caller zeroes
 *   (SHMAP_EINVAL otherwise); endpoint options start with a `size` the
 *   caller sets to sizeof, and the library reads only that much
 *   (docs/guide.md, "Ownership").
 * - Threads: each function says what it allows; the per-thread error state
 *   makes every failure report safe to read from the failing thread.
 */
#ifndef SHMAP_H
#define SHMAP_H

#include "shmap/backend.h"
#include "shmap/channel.h"
#include "shmap/error.h"
#include "shmap/frontend.h"
#include "shmap/mappable.h"
#include "shmap/platform.h"
#include "shmap/region.h"
#include "shmap/version.h"
#include "shmap/window.h"
#include "shmap/wire.h"

#endif /* SHMAP_H */
