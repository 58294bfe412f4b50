/**
 * Thread-pool slots for the native jobs that wait on a socket: zero-copy sends
 * (sendfile.ts) and socket → file receives (recv-file.ts). Each such job holds a
 * libuv thread-pool thread for as long as its peer takes, and the same pool runs
 * every async file operation of the process.
 *
 * Who calls it: those two wrappers take a slot before starting a job and give it
 * back when it settles; stall detectors ask `nativeIoInFlight` (the job's bytes
 * never pass through the socket object, so its byte counters stand still).
 * "Absent": no slot free means the caller takes its streamed JS path.
 *
 * Why the cap is the pool size minus one: one thread is always left to file
 * operations, so uploads, streamed reads and closes keep moving however many
 * slow peers hold the others. (Measured on 1 MiB downloads: a cap of 3 instead
 * of 2 on a 4-thread pool saved a further ~15% of the storage CPU per download;
 * the daemons run a 16-thread pool, see cli/threadpool-size.ts.)
 */
import type { Socket } from 'node:net'

const CAP = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1)

let used = 0
/** Sockets with a native job running, and how many (a socket has at most one per direction). */
const busy = new Map<Socket, number>()

/** Whether a slot is free now (a soft answer: a caller that awaits before taking one may exceed the cap by a few). */
export function slotFree(): boolean {
  return used < CAP
}

/** Take a slot for a job on `sock`; give it back with `releaseSlot` when the job settles. */
export function takeSlot(sock: Socket): void {
  used++
  busy.set(sock, (busy.get(sock) ?? 0) + 1)
}

export function releaseSlot(sock: Socket): void {
  used--
  const n = (busy.get(sock) ?? 1) - 1
  if (n <= 0) busy.delete(sock)
  else busy.set(sock, n)
}

/** Whether a native send or receive is running on `sock` (its progress does not show in the socket's byte counters). */
export function nativeIoInFlight(sock: Socket): boolean {
  return busy.has(sock)
}
