/* shmap — Windows channel transport: one pipe message per protocol message.
 *
 * A message is an envelope — handle_count u32, reserved u32 (zero), then
 * one u64 per handle — followed by the vhost-user header and payload
 * (docs/wire.md, "Transports"). The sender duplicates each handle into the
 * receiver's process before writing, so the values are already the
 * receiver's; if the write fails it closes those duplicates again from its
 * side (DUPLICATE_CLOSE_SOURCE). From the moment a message is read, the
 * receiver owns every handle it names, and closes them on every error path.
 *
 * What a peer can do: the handle values come from the peer, which can
 * duplicate into us anyway (it holds PROCESS_DUP_HANDLE on us, as we do on
 * it). A value that is not an open handle, or is one of the channel's own
 * handles, is refused and left alone. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ENVELOPE_HEAD 8
#define ENVELOPE_MAX (ENVELOPE_HEAD + 8 * SHMAP_WIRE_MAX_FDS)
/* Messages up to this size — every memory request and reply — are built on
 * the stack; a larger one (a foreign message of up to SHMAP_MSG_MAX_PAYLOAD
 * bytes: GET_CONFIG, SET_CONFIG...) in a buffer allocated for it. A send
 * frame of the largest message (4.2 KiB) would cost every round trip what
 * the common code's receive buffer did on the stack (src/common/internal.h,
 * rxbuf). In whole u64s, never cleared: only the message's bytes are
 * written. */
#define SMALL_MESSAGE ((ENVELOPE_MAX + SHMAP_WIRE_MAX_MESSAGE + 7) & ~7u)

static uint64_t le64(const uint8_t *p) {
  return shmap__le32(p) | (uint64_t)shmap__le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

/* What pipe_io() returns when the channel's timeout passed: its I/O was
 * cancelled and nothing more of it will happen. */
#define TIMED_OUT ERROR_TIMEOUT

/* An overlapped I/O that would block, on a channel with a timeout: wait at
 * most until *deadline (GetTickCount64 milliseconds; set from `ms` at the
 * first such wait of the call, 0 until then), then cancel it. Cancelling
 * does not end the I/O by itself: it may still be running, or have just
 * completed, so its end is waited for (GetOverlappedResult with bWait) —
 * the OVERLAPPED and the buffer are the I/O's until then. An I/O that
 * completed before the cancel took effect keeps its result. Kept out of
 * pipe_io(): reached only where a call would block. */
SHMAP__NOINLINE static DWORD bounded_wait(shmap__chan_os *c, OVERLAPPED *ov,
                                          DWORD *done, int ms,
                                          ULONGLONG *deadline) {
  ULONGLONG now = GetTickCount64();
  if (*deadline == 0)
    *deadline = now + (ULONGLONG)ms;
  DWORD left = now < *deadline ? (DWORD)(*deadline - now) : 0;
  int late = WaitForSingleObject(ov->hEvent, left) == WAIT_TIMEOUT;
  if (late)
    CancelIoEx(c->pipe, ov); /* fails only when the I/O has ended */
  if (GetOverlappedResult(c->pipe, ov, done, TRUE))
    return 0;
  DWORD err = GetLastError();
  return late && err == ERROR_OPERATION_ABORTED ? TIMED_OUT : err;
}

/* One overlapped read or write, waited for: for ever when `ms` is 0, else
 * until *deadline (see bounded_wait; TIMED_OUT past it). Returns 0 or the
 * Windows error (ERROR_MORE_DATA: a read got the first *done bytes of a
 * longer message). An I/O that completes at once costs the same calls
 * with a bound as without. */
static DWORD pipe_io(shmap__chan_os *c, int write, void *buf, DWORD len,
                     DWORD *done, int ms, ULONGLONG *deadline) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = write ? c->wr_ev : c->rd_ev;
  *done = 0;
  BOOL ok = write ? WriteFile(c->pipe, buf, len, NULL, &ov)
                  : ReadFile(c->pipe, buf, len, NULL, &ov);
  DWORD err = ok ? 0 : GetLastError();
  if (err == ERROR_IO_PENDING && ms > 0)
    return bounded_wait(c, &ov, done, ms, deadline);
  if (err != 0 && err != ERROR_IO_PENDING && err != ERROR_MORE_DATA)
    return err;
  return GetOverlappedResult(c->pipe, &ov, done, TRUE) ? 0 : GetLastError();
}

static int closed_error(DWORD err) {
  return err == ERROR_BROKEN_PIPE || err == ERROR_NO_DATA ||
         err == ERROR_PIPE_NOT_CONNECTED;
}

/* Close duplicates this end made in the peer's process. */
static void close_remote(shmap__chan_os *c, const HANDLE *remote, size_t n) {
  for (size_t i = 0; i < n; i++)
    DuplicateHandle(c->peer, remote[i], NULL, NULL, 0, FALSE,
                    DUPLICATE_CLOSE_SOURCE);
}

/* Timeouts (shmap_channel_set_timeout()): a read inside a message (the
 * rest of one longer than the first read, see shmap__os_chan_recv_frame)
 * and every write that would block wait at most the bound and are then
 * cancelled. A pipe message is written whole by one WriteFile, but one
 * larger than the pipe's buffer stays pending until it is read, and a
 * writer that cancels it half read leaves the reader inside a message that
 * never ends. */
int shmap__os_chan_timeouts(void) { return 1; }

int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds,
                        int timeout_ms) {
  uint64_t small[SMALL_MESSAGE / 8];
  HANDLE remote[SHMAP_WIRE_MAX_FDS];
  if (nfds > SHMAP_WIRE_MAX_FDS)
    return shmap__err(SHMAP_EFDCOUNT, "channel send: %zu handles, at most %d",
                      nfds, SHMAP_WIRE_MAX_FDS);
  if (len > SHMAP_MSG_MAX_FRAME)
    return shmap__err(SHMAP_ESIZE, "channel send: a %zu-byte frame, at most %d",
                      len, SHMAP_MSG_MAX_FRAME);
  size_t head = ENVELOPE_HEAD + 8 * nfds;
  uint8_t *msg =
      head + len <= sizeof small ? (uint8_t *)small : malloc(head + len);
  if (msg == NULL)
    return shmap__err(SHMAP_ENOMEM, "channel send: a %zu-byte message",
                      head + len);
  int rc = 0;
  DWORD err = 0, done = 0;
  for (size_t i = 0; i < nfds; i++) {
    if (!DuplicateHandle(GetCurrentProcess(), fds[i], c->peer, &remote[i], 0,
                         FALSE, DUPLICATE_SAME_ACCESS)) {
      err = GetLastError();
      close_remote(c, remote, i);
      rc = shmap__err_sys(SHMAP_EOS, (int)err,
                          "channel send: duplicating handle %zu into the peer",
                          i);
      goto out;
    }
  }
  put32(msg, (uint32_t)nfds);
  put32(msg + 4, 0);
  for (size_t i = 0; i < nfds; i++)
    put64(msg + ENVELOPE_HEAD + 8 * i, (uint64_t)(uintptr_t)remote[i]);
  memcpy(msg + head, buf, len);
  ULONGLONG deadline = 0;
  err = pipe_io(c, 1, msg, (DWORD)(head + len), &done, timeout_ms, &deadline);
  if (err == 0 && done == head + len)
    goto out;
  if (err == TIMED_OUT) {
    /* The peer read none of the message, or (when *done says so) its
     * first `done` bytes: the values in those are its own to close (a
     * receiver owns every handle named in what it read); the others it
     * never learns, so they are taken back. Wine reports 0 even for a
     * write cancelled half read, but a shmap receiver reads a message with
     * handles at once (in its first read, or that and a tail read right
     * after), which completes the write: a cancelled one was not read. */
    size_t known = done > ENVELOPE_HEAD ? (done - ENVELOPE_HEAD) / 8 : 0;
    if (known < nfds)
      close_remote(c, remote + known, nfds - known);
    rc = shmap__err_os(SHMAP_ETIMEDOUT, (int)err,
                       "channel send: the peer read nothing for %d ms",
                       timeout_ms);
    goto out;
  }
  /* The peer will never learn these values: take them back. */
  close_remote(c, remote, nfds);
  if (err == 0)
    rc = shmap__err(SHMAP_EOS, "channel send: wrote %lu of %zu bytes",
                    (unsigned long)done, head + len);
  else
    rc = shmap__err_sys(SHMAP_EOS, (int)err, "channel send%s",
                        closed_error(err) ? ": peer closed" : "");
out:
  if (msg != (uint8_t *)small)
    free(msg);
  return rc;
}

/* Whether `v` may be a handle the peer gave us: an open handle value that
 * is none of the channel's own. */
static int foreign_handle(const shmap__chan_os *c, uint64_t v) {
  DWORD info;
  HANDLE h = (HANDLE)(uintptr_t)v;
  if (v == 0 || (v & 3) != 0 || v > 0xffffffffu || h == c->pipe ||
      h == c->peer || h == c->rd_ev || h == c->wr_ev)
    return 0;
  return GetHandleInformation(h, &info) != 0;
}

/* Take the `n` handle values at msg + ENVELOPE_HEAD: the first `cap - *nfds`
 * valid ones go to fds, the rest are closed. Counts refused values in *bad. */
static void take_handles(const shmap__chan_os *c, const uint8_t *msg, size_t n,
                         shmap_native_t *fds, size_t *nfds, size_t cap,
                         size_t *bad) {
  for (size_t i = 0; i < n; i++) {
    uint64_t v = le64(msg + ENVELOPE_HEAD + 8 * i);
    if (!foreign_handle(c, v))
      (*bad)++;
    else if (*nfds < cap)
      fds[(*nfds)++] = (HANDLE)(uintptr_t)v;
    else
      CloseHandle((HANDLE)(uintptr_t)v);
  }
}

/* The most of a message longer than any valid one that is read to find its
 * end (a receive, see shmap__os_chan_recv_frame), and of all messages a
 * close drains (drain_unread): 1024 messages of the largest valid size,
 * about 4 MiB. */
#define DRAIN_BYTES ((size_t)1024 * (ENVELOPE_MAX + SHMAP_MSG_MAX_FRAME))

/* Read and drop the rest of a message longer than any valid one, stopping
 * once `limit` bytes of it have been read; returns the message's whole
 * length (as far as read when *err, the last read's result, is not 0:
 * TIMED_OUT with a bound, ERROR_MORE_DATA at the limit). Rare (a hostile
 * or broken peer): kept out of the receive path's frame. */
SHMAP__NOINLINE static size_t drain_message(shmap__chan_os *c, size_t got,
                                            size_t limit, int ms,
                                            ULONGLONG *deadline, DWORD *err) {
  uint64_t chunk[64];
  DWORD n;
  do {
    *err = pipe_io(c, 0, chunk, sizeof chunk, &n, ms, deadline);
    got += n;
  } while (*err == ERROR_MORE_DATA && got < limit);
  return got;
}

/* The handle values of a message whose first `got` bytes (of `total`) are
 * in msg. An envelope that claims more values than the message holds is
 * not trusted at all: its "values" would be frame bytes, and closing those
 * could close an unrelated handle of ours. Values past the first read
 * (only with far more than SHMAP_WIRE_MAX_FDS) are left alone likewise. */
static size_t listed_handles(const uint8_t *msg, size_t got, size_t total) {
  uint64_t count = shmap__le32(msg);
  if (ENVELOPE_HEAD + 8 * count > total)
    return 0;
  return ENVELOPE_HEAD + 8 * count <= got ? (size_t)count
                                          : (got - ENVELOPE_HEAD) / 8;
}

/* The rest of a message whose first `got` bytes are in msg did not come
 * within the channel's timeout. The handles named in those bytes are
 * owned (the caller closes them with the error); the message is longer
 * than what was read, so its envelope is believed as far as it was read.
 * Rare: kept out of the receive path's frame. */
SHMAP__NOINLINE static int stalled(shmap_channel *ch, const uint8_t *msg,
                                   size_t got, shmap_native_t *fds,
                                   size_t *nfds) {
  size_t bad = 0;
  if (got >= ENVELOPE_HEAD)
    take_handles(&ch->os, msg, listed_handles(msg, got, SIZE_MAX), fds, nfds,
                 SHMAP_WIRE_MAX_FDS, &bad);
  return shmap__err_os(SHMAP_ETIMEDOUT, TIMED_OUT,
                       "channel receive: the peer left a message unfinished "
                       "for %d ms (%zu bytes read)",
                       ch->timeout_ms, got);
}

/* A message that goes on past DRAIN_BYTES. Its rest is not read: a peer
 * could make it any length, and no reading of it would make the channel
 * usable again, since a framing error leaves it out of sync for the caller
 * to close (whose drain is bounded too). The handles named in what was
 * read are owned, believed as far as read, as for a stalled message. Rare:
 * kept out of the receive path's frame. */
SHMAP__NOINLINE static int oversized(shmap_channel *ch, const uint8_t *msg,
                                     size_t got, size_t read,
                                     shmap_native_t *fds, size_t *nfds) {
  size_t bad = 0;
  if (got >= ENVELOPE_HEAD)
    take_handles(&ch->os, msg, listed_handles(msg, got, SIZE_MAX), fds, nfds,
                 SHMAP_WIRE_MAX_FDS, &bad);
  return shmap__err(SHMAP_EPROTO,
                    "channel receive: a message longer than any valid one "
                    "(more than %zu bytes); the rest is left unread",
                    read);
}

/* The message is read straight into the caller's frame buffer, envelope
 * first, and the frame then moved down over the envelope: no buffer of our
 * own (the common code keeps one per channel, warm, rather than 4 KiB on
 * every receive path's stack). Only the largest frames, which leave no room
 * in buf for their envelope, take a second read of at most ENVELOPE_MAX
 * bytes. */
int shmap__os_chan_recv_frame(shmap_channel *ch, uint8_t *buf, size_t cap,
                              size_t *len, shmap_native_t *fds, size_t *nfds) {
  shmap__chan_os *c = &ch->os;
  /* Every envelope and a header fit the first read (the common code gives
   * SHMAP_MSG_MAX_FRAME). */
  if (cap < ENVELOPE_MAX + SHMAP_WIRE_HEADER_SIZE || cap > MAXDWORD)
    return shmap__err(SHMAP_EINVAL, "channel receive: a %zu-byte buffer", cap);
  const uint8_t *msg = buf;
  DWORD got, more = 0;
  /* Waiting for a message to begin is never bounded. */
  DWORD err = pipe_io(c, 0, buf, (DWORD)cap, &got, 0, NULL);
  if (err != 0 && err != ERROR_MORE_DATA)
    return shmap__err_sys(SHMAP_EOS, (int)err, "channel receive");
  uint64_t tail[ENVELOPE_MAX / 8]; /* not cleared: `more` bytes are read */
  size_t total = got;
  if (err == ERROR_MORE_DATA) {
    /* Inside a message: the rest is waited for at most the timeout. */
    ULONGLONG deadline = 0;
    err = pipe_io(c, 0, tail, sizeof tail, &more, ch->timeout_ms, &deadline);
    total += more;
    /* Read to its end, to report it whole, but at most DRAIN_BYTES: a
     * peer could make it any length. */
    if (err == ERROR_MORE_DATA)
      total =
          drain_message(c, total, DRAIN_BYTES, ch->timeout_ms, &deadline, &err);
    if (err == TIMED_OUT)
      return stalled(ch, msg, got, fds, nfds);
    if (err == ERROR_MORE_DATA)
      return oversized(ch, msg, got, total, fds, nfds);
  }
  if (got < ENVELOPE_HEAD)
    return shmap__err(SHMAP_EPROTO,
                      "channel receive: a %lu-byte message has no envelope",
                      (unsigned long)got);
  uint32_t count = shmap__le32(msg), reserved = shmap__le32(msg + 4);
  size_t bad = 0, head = ENVELOPE_HEAD + 8 * (size_t)count;
  /* Own every named handle before judging anything else. */
  take_handles(c, msg, listed_handles(msg, got, total), fds, nfds,
               SHMAP_WIRE_MAX_FDS, &bad);
  if (head > total)
    return shmap__err(SHMAP_EPROTO,
                      "channel receive: envelope names %lu handles in a "
                      "%zu-byte message (none taken)",
                      (unsigned long)count, total);
  if (reserved != 0)
    return shmap__err(SHMAP_EPADDING,
                      "channel receive: envelope reserved field is 0x%lx",
                      (unsigned long)reserved);
  if (count > SHMAP_WIRE_MAX_FDS)
    return shmap__err(SHMAP_EFDCOUNT,
                      "channel receive: %lu handles, at most %d",
                      (unsigned long)count, SHMAP_WIRE_MAX_FDS);
  if (bad > 0)
    return shmap__err(SHMAP_EBADF,
                      "channel receive: %zu handle values are not open "
                      "handles the peer gave us",
                      bad);
  size_t frame = total - head;
  if (frame < SHMAP_WIRE_HEADER_SIZE)
    return shmap__err(SHMAP_EPROTO,
                      "channel receive: %zu bytes after the envelope, less "
                      "than a header",
                      frame);
  /* head <= ENVELOPE_MAX here, and the first read holds the whole message
   * or cap bytes of it: the header is in it. */
  size_t payload;
  int rc = shmap__chan_header(ch, msg + head, &payload);
  if (rc != 0)
    return rc;
  /* The header allows at most SHMAP_MSG_MAX_PAYLOAD and the envelope at
   * most SHMAP_WIRE_MAX_FDS handles, so a message that matches its header
   * was read whole, in buf and at most ENVELOPE_MAX bytes of tail. Checked
   * all the same: the moves below rely on it. */
  if (frame != SHMAP_WIRE_HEADER_SIZE + payload || frame > cap ||
      total != (size_t)got + more)
    return shmap__err(SHMAP_EPROTO,
                      "channel receive: the header announces %zu payload "
                      "bytes, the message carries %zu",
                      payload, frame - SHMAP_WIRE_HEADER_SIZE);
  memmove(buf, buf + head, got - head);
  memcpy(buf + (got - head), tail, more);
  *len = frame;
  return 0;
}

/* Messages still queued when a channel closes name handles that were
 * already duplicated into this process: read them and close those.
 *
 * A close is never held up by the peer, so the drain is bounded: at most
 * DRAIN_MESSAGES messages, DRAIN_BYTES bytes and DRAIN_MS of waiting in all
 * (a peer whose write of a message stays pending). DRAIN_BYTES is 1024
 * messages of the largest valid size (an envelope with SHMAP_WIRE_MAX_FDS
 * handles and a SHMAP_MSG_MAX_FRAME frame: 4180 bytes), about 4 MiB: the
 * messages that carry handles are far smaller (memory requests, at most
 * ENVELOPE_MAX + SHMAP_WIRE_MAX_MESSAGE bytes), so DRAIN_MESSAGES of them
 * fit many times over, and a valid peer's writes block once the pipe's
 * buffer is full anyway. Past a bound the pipe is closed with the rest
 * unread: handles named in those messages stay open in this process. That
 * is the peer's doing, and bounded by the caps (a peer can duplicate
 * handles into us anyway). */
#define DRAIN_MESSAGES 4096
#define DRAIN_MS 100

static void drain_unread(shmap__chan_os *c) {
  size_t left = DRAIN_BYTES;
  ULONGLONG deadline = 0; /* set by the first wait (bounded_wait) */
  for (int i = 0; i < DRAIN_MESSAGES; i++) {
    DWORD avail = 0;
    if (!PeekNamedPipe(c->pipe, NULL, 0, NULL, &avail, NULL) || avail == 0)
      return;
    uint64_t first[512];
    DWORD got;
    size_t bad = 0, none = 0;
    DWORD err = pipe_io(c, 0, first, sizeof first, &got, DRAIN_MS, &deadline);
    if (err != 0 && err != ERROR_MORE_DATA)
      return;
    size_t total = got;
    if (err == ERROR_MORE_DATA)
      total = drain_message(c, got, left, DRAIN_MS, &deadline, &err);
    /* A message cut short is longer than what was read: its envelope is
     * believed as far as it was read (as in stalled()). */
    if (got >= ENVELOPE_HEAD)
      take_handles(c, (const uint8_t *)first,
                   listed_handles((const uint8_t *)first, got,
                                  err == 0 ? total : SIZE_MAX),
                   NULL, &none, 0, &bad);
    if (err != 0 || total >= left)
      return;
    left -= total;
  }
}

void shmap__os_chan_close(shmap__chan_os *c) {
  if (c->pipe != NULL && c->pipe != INVALID_HANDLE_VALUE) {
    drain_unread(c);
    CloseHandle(c->pipe);
  }
  shmap_native_close(c->peer);
  shmap_native_close(c->rd_ev);
  shmap_native_close(c->wr_ev);
}
