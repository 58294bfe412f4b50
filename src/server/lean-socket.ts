/**
 * Sockets that read into one shared buffer instead of Node's stream machinery.
 *
 * A plain net.Socket allocates a fresh 64 KiB ArrayBuffer per read, wraps it in
 * a Buffer and pushes it through Readable (addChunk, 'data' emit). Node's
 * `onread` option reads into a caller-owned buffer and calls one function
 * instead. For the small request/response traffic of FastDFS (a 26-byte query,
 * a 50-byte reply) that stream path is a large share of the CPU per request:
 * on this machine a trivial ping-pong server spends 25.5 µs of CPU per request
 * with 'data' events and 20.6 µs with `onread` (the same client, alternating).
 *
 * Who calls it: TcpServer adopts every accepted socket with `adoptLean`; client
 * code that wants the same path connects with `leanConnect`. SocketReader asks
 * `onLeanData` for the socket's chunks and falls back to 'data' events for any
 * other socket ("absent": `onLeanData` returns false).
 *
 * Chunks handed to the sink are copies (the shared buffer is reused by the
 * next read of any socket), small ones from Node's buffer pool; during a bulk
 * transfer a socket reads into buffers of its own instead (see BULK_READ).
 *
 * `TANDEM_NODE_READ=1` turns this off (every socket uses 'data' events).
 *
 * `leanWrite` is the write-side counterpart for small replies (send(2) when the
 * stream is idle); `TANDEM_NODE_WRITE=1` turns it off.
 */
import net, { type Socket, type NetConnectOpts } from 'node:net'
import { nativeAddon } from '../engine/io/native-addon.js'

type Sink = (chunk: Buffer) => void

/** Sockets made here, with their sink or the chunks that arrived before one was set. */
const LEAN = new WeakMap<Socket, LeanState>()

/** Off when TANDEM_NODE_READ=1 (read at call time so tests can flip it). */
export function leanEnabled(): boolean {
  return process.env.TANDEM_NODE_READ !== '1'
}

/**
 * Why one buffer for every socket of the process: libuv fills it and Node calls
 * the callback synchronously before the next read of any socket, and the
 * callback copies what it needs out. 64 KiB is what Node reads per call anyway.
 */
const SHARED = Buffer.allocUnsafe(64 * 1024)

interface LeanState {
  sink?: Sink
  pending?: Buffer[]
}

/**
 * A read at least this long means a bulk transfer is under way (a file body): the socket's next
 * read goes into a buffer of its own, handed on without a copy. Why: for bulk data the copy out
 * of the shared buffer is a second pass over every byte (a client downloading 1 MiB files spent
 * it on each MiB), and a fresh buffer per 64 KiB read is what Node's own read path allocates
 * anyway; small traffic keeps the shared buffer and its small copies.
 */
const BULK_READ = SHARED.length / 2

function onreadFor(st: LeanState): { buffer: () => Buffer; callback: (n: number, b: Uint8Array) => boolean } {
  let next: Buffer = SHARED
  return {
    // Called by Node before the first read and after each one: where the next read lands.
    buffer: () => next,
    callback: (n, b) => {
      let chunk: Buffer
      if (b === SHARED) {
        chunk = Buffer.allocUnsafe(n)
        chunk.set(n === b.length ? b : b.subarray(0, n))
      } else {
        // This socket's own buffer (bulk mode): never read into again, so the bytes are handed on.
        chunk = Buffer.from(b.buffer, b.byteOffset, n)
      }
      next = n >= BULK_READ ? Buffer.allocUnsafeSlow(SHARED.length) : SHARED
      if (st.sink) st.sink(chunk)
      else (st.pending ??= []).push(chunk)
      return true
    },
  }
}

/**
 * Re-wrap a socket a net.Server just accepted (created with pauseOnConnect, so
 * nothing has been read yet) around the same handle, reading into the shared
 * buffer. Uses the socket's private `_handle`, as Node's own cluster module
 * does when it passes handles around; if that is not there (another Node, a
 * socket already reading) or lean reads are off, the accepted socket is
 * resumed and returned unchanged.
 */
export function adoptLean(accepted: Socket): Socket {
  const a = accepted as unknown as { _handle?: unknown }
  if (!leanEnabled() || !a._handle || !accepted.isPaused()) {
    accepted.resume()
    return accepted
  }
  const handle = a._handle
  a._handle = null
  // The accepted wrapper owns nothing now; destroying it only settles the server's connection count.
  accepted.destroy()
  const st: LeanState = {}
  const sock = new net.Socket({ handle, onread: onreadFor(st) } as unknown as net.SocketConstructorOpts)
  LEAN.set(sock, st)
  sock.resume()
  return sock
}

/** net.connect with the shared-buffer read path (plain net.connect when lean reads are off). */
export function leanConnect(opts: NetConnectOpts): Socket {
  if (!leanEnabled()) return net.connect(opts)
  const st: LeanState = {}
  const sock = net.connect({ ...opts, onread: onreadFor(st) } as NetConnectOpts)
  LEAN.set(sock, st)
  return sock
}

/**
 * Route a lean socket's chunks to `sink` (chunks that arrived before are
 * delivered first). False for any other socket: the caller listens to 'data'.
 */
export function onLeanData(sock: Socket, sink: Sink): boolean {
  const st = LEAN.get(sock)
  if (!st) return false
  st.sink = sink
  const p = st.pending
  if (p) {
    st.pending = undefined
    for (const c of p) sink(c)
  }
  return true
}

type SendNow = (fd: number, b: Buffer) => number
let sendNowFn: SendNow | null | undefined

/** The addon's sendNow, or null (not built, not Linux, or TANDEM_NODE_WRITE=1). Decided once. */
function sendNow(): SendNow | null {
  if (sendNowFn !== undefined) return sendNowFn
  const m = process.env.TANDEM_NODE_WRITE === '1' ? null : nativeAddon()
  sendNowFn = m && typeof m.sendNow === 'function' ? (m.sendNow as SendNow) : null
  return sendNowFn
}

/** The socket's descriptor while it is open, idle for writing, not corked and not ended; undefined otherwise. */
function idleFd(sock: Socket): number | undefined {
  if (sock.writableLength !== 0 || sock.writableCorked !== 0 || sock.writableEnded || sock.destroyed || sock.connecting) return undefined
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}

/**
 * Write a reply: straight to the kernel with one non-blocking send(2) when nothing is queued
 * in the socket's stream ahead of it and the socket is not corked (a corked socket is
 * gathering replies into one write on purpose), else (or for whatever that send could not
 * take) through `sock.write`, which keeps the order and handles backpressure and errors.
 *
 * Who calls it: the FastDFS tracker frame loop and the storage's synchronous small-request
 * paths (upload, sync create, small download replies). Why: for a 50-byte reply the stream
 * path (Writable.write, writeGeneric, the write callback and its nextTick) costs more CPU than
 * the send itself. Safe for ordering because `writableLength` counts every byte the stream has
 * not yet handed to the kernel, including a write libuv is still finishing; an error other
 * than EAGAIN is left to the stream's own write, which reports and closes as before.
 * Bytes sent here do not show in `sock.bytesWritten` (they never wait, so no stall detector
 * needs them). Returns what `sock.write` would: false when bytes are left queued.
 */
export function leanWrite(sock: Socket, b: Buffer): boolean {
  const send = sendNow()
  const fd = send ? idleFd(sock) : undefined
  if (fd !== undefined) {
    const n = send!(fd, b)
    if (n === b.length) return true
    if (n > 0) return sock.write(b.subarray(n))
  }
  return sock.write(b)
}
