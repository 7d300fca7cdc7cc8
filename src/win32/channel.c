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

/* One overlapped read or write, waited for. Returns 0 or the Windows error
 * (ERROR_MORE_DATA: a read got the first *done bytes of a longer message). */
static DWORD pipe_io(shmap__chan_os *c, int write, void *buf, DWORD len,
                     DWORD *done) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = write ? c->wr_ev : c->rd_ev;
  *done = 0;
  BOOL ok = write ? WriteFile(c->pipe, buf, len, NULL, &ov)
                  : ReadFile(c->pipe, buf, len, NULL, &ov);
  DWORD err = ok ? 0 : GetLastError();
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

/* A message-mode pipe delivers each message whole, so a receive never
 * waits inside one; bounding sends (the overlapped wait's timeout, with a
 * cancelled write taking its handles back) is not done yet: the setter
 * refuses a timeout (SHMAP_ENOTSUP) rather than promise one. */
int shmap__os_chan_timeouts(void) { return 0; }

int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds,
                        int timeout_ms) {
  (void)timeout_ms; /* always 0 here: shmap__os_chan_timeouts() */
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
      rc = shmap__err_os(
          err == ERROR_INVALID_HANDLE ? SHMAP_EBADF : SHMAP_EOS, (int)err,
          "channel send: duplicating handle %zu into the peer", i);
      goto out;
    }
  }
  put32(msg, (uint32_t)nfds);
  put32(msg + 4, 0);
  for (size_t i = 0; i < nfds; i++)
    put64(msg + ENVELOPE_HEAD + 8 * i, (uint64_t)(uintptr_t)remote[i]);
  memcpy(msg + head, buf, len);
  err = pipe_io(c, 1, msg, (DWORD)(head + len), &done);
  if (err == 0 && done == head + len)
    goto out;
  /* The peer will never learn these values: take them back. */
  close_remote(c, remote, nfds);
  if (err == 0)
    rc = shmap__err(SHMAP_EOS, "channel send: wrote %lu of %zu bytes",
                    (unsigned long)done, head + len);
  else
    rc = shmap__err_os(closed_error(err) ? SHMAP_ECLOSED : SHMAP_EOS, (int)err,
                       "channel send%s",
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

/* Read and drop the rest of a message longer than any valid one; returns
 * the message's whole length. Rare (a hostile or broken peer): kept out of
 * the receive path's frame. */
SHMAP__NOINLINE static size_t drain_message(shmap__chan_os *c, size_t got) {
  uint64_t chunk[64];
  DWORD n, err;
  do {
    err = pipe_io(c, 0, chunk, sizeof chunk, &n);
    got += n;
  } while (err == ERROR_MORE_DATA);
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
  DWORD err = pipe_io(c, 0, buf, (DWORD)cap, &got);
  if (err != 0 && err != ERROR_MORE_DATA)
    return closed_error(err)
               ? shmap__err_os(SHMAP_ECLOSED, (int)err,
                               "channel receive: peer closed the connection")
               : shmap__err_os(SHMAP_EOS, (int)err, "channel receive");
  uint64_t tail[ENVELOPE_MAX / 8]; /* not cleared: `more` bytes are read */
  size_t total = got;
  if (err == ERROR_MORE_DATA) {
    err = pipe_io(c, 0, tail, sizeof tail, &more);
    total += more;
    if (err == ERROR_MORE_DATA)
      total = drain_message(c, total);
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
 * already duplicated into this process: read them and close those. */
static void drain_unread(shmap__chan_os *c) {
  for (int i = 0; i < 4096; i++) {
    DWORD avail = 0;
    if (!PeekNamedPipe(c->pipe, NULL, 0, NULL, &avail, NULL) || avail == 0)
      return;
    uint64_t first[512];
    DWORD got;
    size_t bad = 0, none = 0;
    DWORD err = pipe_io(c, 0, first, sizeof first, &got);
    if (err != 0 && err != ERROR_MORE_DATA)
      return;
    if (got < ENVELOPE_HEAD)
      continue;
    size_t total = err == ERROR_MORE_DATA ? drain_message(c, got) : got;
    take_handles(c, (const uint8_t *)first,
                 listed_handles((const uint8_t *)first, got, total), NULL,
                 &none, 0, &bad);
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
