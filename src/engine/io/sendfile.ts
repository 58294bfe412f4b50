/**
 * Zero-copy file → socket sends: sendfile(2) through the optional native addon
 * (native/sendfile.c, built by scripts/build-native.mjs into
 * build/Release/tandem_native.node).
 *
 * Called by protocol download handlers (the FastDFS storage DOWNLOAD command)
 * for large bodies whose ReadHandle exposes an `fd`: they check `canSendFile`,
 * write their reply header, wait until the socket's user-space queue is empty,
 * then call `sendFileToSocket`. The bytes go from the page cache to the socket
 * on a libuv thread-pool thread, never through the event loop.
 *
 * Absent means: the addon was not built (no compiler at install time, not
 * Linux), failed to load, or `TANDEM_NO_SENDFILE=1` is set. Then
 * `sendfileAvailable()` is false, `canSendFile()` is false, and
 * `sendFileToSocket` rejects with code ENOTSUP without touching the socket;
 * callers keep their streamed path for exactly this case.
 */
import type { Socket } from 'node:net'
import { logger } from '../../log.js'
import { nativeAddon } from './native-addon.js'
import { nativeIoInFlight, releaseSlot, slotFree, takeSlot } from './pool-slots.js'

const log = logger('engine.sendfile')

interface NativeJob {
  done: Promise<number>
  /** Absent only if the addon could not create it (then a closed socket is noticed by the timeout). */
  cancel?: () => void
}

interface NativeAddon {
  sendfile(outFd: number, inFd: number, offset: number, length: number, timeoutMs: number, head?: Buffer): NativeJob
  /** The addon sends an optional head before the file in the same job (absent in older builds). */
  sendfileHead?: boolean
}

let addon: NativeAddon | null | undefined

function load(): NativeAddon | null {
  if (addon !== undefined) return addon
  addon = null
  if (process.env.TANDEM_NO_SENDFILE === '1') {
    log.info('zero-copy sendfile disabled by TANDEM_NO_SENDFILE=1')
    return addon
  }
  const m = nativeAddon()
  if (!m) return addon
  if (typeof m.sendfile === 'function') addon = m as unknown as NativeAddon
  else log.warn('native addon has no sendfile (not Linux?): downloads use the streamed path')
  return addon
}

/** True when the addon is loaded and not disabled by TANDEM_NO_SENDFILE=1 (decided once, at the first call). */
export function sendfileAvailable(): boolean {
  return load() !== null
}

/** The socket's OS descriptor, or undefined (not a TCP/pipe handle, already closed, or a platform without fds). */
export function socketFd(sock: Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined
}

/**
 * Whether a zero-copy send to `sock` should start now: available, the socket is
 * open with a descriptor, and a thread-pool slot is free (pool-slots.ts). The
 * cap is soft (a caller that awaits between this check and the send may exceed
 * it by a few); a false answer means "use the streamed path".
 */
export function canSendFile(sock: Socket): boolean {
  return slotFree() && !sock.destroyed && socketFd(sock) !== undefined && sendfileAvailable()
}

/** Whether a zero-copy send to `sock` is running. Stall detectors need this: its bytes never show in `sock.bytesWritten`. */
export function sendfileInFlight(sock: Socket): boolean {
  return nativeIoInFlight(sock)
}

function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/**
 * Send `length` bytes of the file `fd` from `start` to `sock` with sendfile(2);
 * resolves with the bytes sent (fewer than `length` only if the file was shorter).
 *
 * The caller must have flushed everything it wrote before (`sock.writableLength
 * === 0`, else EBUSY) and must not write to the socket until this settles, or
 * bytes would interleave. `fd` must stay open until this settles (a ReadHandle's
 * `fd` does as long as its stream is not destroyed); it is read with explicit
 * offsets, so its file position is untouched. The socket's flags are never
 * changed. When the socket closes meanwhile (destroyed by an error, a sweep or a
 * shutdown), the send is cancelled and rejects with ECANCELED.
 *
 * `timeoutMs` bounds each wait for the socket to become writable, not the whole
 * send. Why: a large file to a slow but steady client must not fail because it
 * takes long, while a client that stops reading must release its thread-pool
 * thread; callers pass their protocol's network timeout, which is the same
 * "no progress for this long" rule their stall detection applies to streamed
 * replies.
 *
 * Rejections carry `code`: ENOTSUP (absent), EBADF (socket has no descriptor),
 * EBUSY (unflushed writes), ETIMEDOUT, ECANCELED, EPIPE, ECONNRESET, ...
 */
export async function sendFileToSocket(sock: Socket, fd: number, start: number, length: number, timeoutMs: number, head?: Buffer): Promise<number> {
  const native = load()
  if (!native) throw codeError('ENOTSUP', 'zero-copy sendfile is not available (addon not built, or TANDEM_NO_SENDFILE=1)')
  const out = socketFd(sock)
  if (out === undefined || sock.destroyed) throw codeError('EBADF', 'socket has no open descriptor')
  if (sock.writableLength !== 0) throw codeError('EBUSY', `socket has ${sock.writableLength} unflushed bytes; sendfile would reorder them`)
  if (length === 0 && !head) return 0
  const t = Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(timeoutMs)))
  const job = head ? native.sendfile(out, fd, start, length, t, head) : native.sendfile(out, fd, start, length, t)
  const onClose = () => job.cancel?.()
  sock.once('close', onClose)
  takeSlot(sock)
  try {
    return await job.done
  } finally {
    releaseSlot(sock)
    sock.off('close', onClose)
  }
}

/** Write `b`; resolves true once it left user space (nothing queued behind it), false if the socket failed or closed first. */
export function flushedWrite(sock: Socket, b: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      sock.off('close', onClose)
      resolve(ok && !sock.destroyed && sock.writableLength === 0)
    }
    const onClose = () => done(false)
    sock.once('close', onClose)
    sock.write(b, (err) => done(!err))
  })
}

/**
 * A protocol header followed by `length` bytes of file `fd` from `start`. When nothing is
 * queued on the socket, both go out from one native job (header first); otherwise the header is
 * written and flushed first (so no user-space bytes are queued that the file bytes could
 * overtake), then the range goes out with sendfile(2). Resolves with the file bytes sent;
 * rejects like `sendFileToSocket` (with `bytesSent`), or with ECONNRESET when the socket
 * closed before the header left. Callers check `canSendFile(sock)` first, keep `fd` open
 * until this settles, and close the connection on any failure (the peer saw a short body).
 */
export async function sendHeadAndFile(sock: Socket, head: Buffer, fd: number, start: number, length: number, timeoutMs: number): Promise<number> {
  // Nothing queued: the header goes out from the same thread-pool job as the file (one job,
  // no write completion to wait for on the event loop in between).
  if (load()?.sendfileHead === true && sock.writableLength === 0 && !sock.destroyed) return sendFileToSocket(sock, fd, start, length, timeoutMs, head)
  if (!(await flushedWrite(sock, head))) throw Object.assign(codeError('ECONNRESET', 'socket closed before the header was sent'), { bytesSent: 0 })
  return sendFileToSocket(sock, fd, start, length, timeoutMs)
}
