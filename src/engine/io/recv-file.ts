/**
 * Socket → file receives for large request bodies: recv(2) into a native buffer
 * and pwrite(2) into the destination file on a libuv thread-pool thread
 * (native/recvfile.c), with the CRC-32 computed on the way. The bytes never
 * enter the JS heap: no 64 KiB Buffer per socket read for the GC to collect, no
 * copies into batch buffers, and the event loop stays free for other requests
 * while a large body arrives.
 *
 * Called by the server layer's SocketReader (its bodies' `intoFile`), which
 * stops its own reads first and owns the rules for when a receive goes native;
 * the blob store only sees `DirectBody.intoFile` (blob-store.ts).
 *
 * Absent means: the addon was not built or failed to load, it has no
 * `recvToFile` (not Linux), the host exports no usable zlib crc32 and a CRC was
 * asked for, or `TANDEM_NO_RECVFILE=1` is set. Then `recvFileAvailable()` is
 * false and callers keep their JS path.
 */
import { nativeAddon } from './native-addon.js'

interface NativeJob {
  done: Promise<number>
  cancel?: () => void
}

interface RecvAddon {
  recvToFile(sockFd: number, fileFd: number, position: number, prefix: Buffer, length: number, crcSeed: number, wantCrc: boolean, timeoutMs: number): NativeJob
  recvCrcAvailable: boolean
}

let addon: RecvAddon | null | undefined

function load(): RecvAddon | null {
  if (addon !== undefined) return addon
  addon = null
  if (process.env.TANDEM_NO_RECVFILE === '1') return addon
  const m = nativeAddon()
  if (m && typeof m.recvToFile === 'function') addon = m as unknown as RecvAddon
  return addon
}

/** Whether native receives can run (with a CRC when `wantCrc`). Decided at the first call. */
export function recvFileAvailable(wantCrc: boolean): boolean {
  const a = load()
  return a !== null && (!wantCrc || a.recvCrcAvailable === true)
}

/**
 * Write `prefix`, then exactly `length` bytes read from socket descriptor `sockFd`, into file
 * descriptor `fileFd` at `position`. Resolves with the CRC-32 of prefix + received bytes
 * continued from `crcSeed` (0 when `wantCrc` is false). The caller has stopped its own reads of
 * the socket and keeps both descriptors' owners from reading them until this settles (the job
 * works on duplicates, so closing the originals is safe); `cancel` (from `onJob`) shuts the
 * socket down and makes the job fail with ECANCELED.
 *
 * `timeoutMs` bounds each wait for the next bytes, not the whole body (a large body from a slow
 * but steady peer is fine; a peer that stops sending releases the thread).
 *
 * Rejections carry `code` (ECONNRESET when the peer closed early, ETIMEDOUT, ECANCELED, ENOSPC,
 * EIO, ...) and `bytesReceived`.
 */
export function recvToFile(sockFd: number, fileFd: number, position: number, prefix: Buffer, length: number, crcSeed: number, wantCrc: boolean, timeoutMs: number, onJob?: (cancel: () => void) => void): Promise<number> {
  const a = load()
  if (!a) return Promise.reject(Object.assign(new Error('native receive is not available'), { code: 'ENOTSUP' }))
  const job = a.recvToFile(sockFd, fileFd, position, prefix, length, crcSeed >>> 0, wantCrc, Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(timeoutMs))))
  if (job.cancel && onJob) onJob(job.cancel)
  return job.done
}
