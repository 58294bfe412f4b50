/**
 * Pull-style reader over a socket for request/response protocols.
 *
 * Handlers `await read(n)` for fixed fields, `readLine()` for text protocols, or
 * iterate `body(n)` to stream a file body straight into a blob store without
 * holding it in memory. Backpressure: once more than HIGH_WATER bytes are
 * queued the socket is paused until the handler consumes them.
 *
 * Absence: at EOF, `read` rejects with PeerClosedError; `readLine` resolves
 * `undefined` when the peer closed cleanly between lines.
 */
import type { Socket } from 'node:net'
import { onLeanData } from './lean-socket.js'
import type { DirectBody } from '../engine/blob/blob-store.js'
import { recvFileAvailable, recvToFile } from '../engine/io/recv-file.js'
import { releaseSlot, slotFree, takeSlot } from '../engine/io/pool-slots.js'
import { socketFd } from '../engine/io/sendfile.js'

const HIGH_WATER = 1024 * 1024
const EMPTY = Buffer.alloc(0)
/**
 * Smallest body (and smallest part of it not yet received) that goes native with `intoFile`.
 * Why: a native receive costs two descriptor dups and a thread-pool round trip (~tens of µs);
 * below a few hundred KiB the JS path is as cheap, and a body already received needs no socket.
 */
const DIRECT_MIN_BODY = 256 * 1024
const DIRECT_MIN_UNREAD = 64 * 1024

export class PeerClosedError extends Error {
  constructor(message = 'peer closed the connection') {
    super(message)
    this.name = 'PeerClosedError'
  }
}

export class SocketReader {
  private chunks: Buffer[] = []
  private queued = 0
  private ended = false
  private error?: Error
  private wake?: () => void
  private paused = false
  private total = 0
  /** Chunks come from lean-socket.ts (an `onread` socket: pause() stops its reads at once). */
  private readonly lean: boolean
  /** A native receive owns the socket's reads (see intoFile). */
  private direct = false
  /** Reads stopped by `holdReads` until someone waits for data or a native receive takes over. */
  private held = false
  /**
   * Per-wait timeout for native body receives, in ms; undefined (the default) keeps every body
   * in JS. Set by servers that want large bodies received natively (the FastDFS storage sets
   * its network_timeout).
   */
  nativeTimeoutMs?: number

  constructor(private readonly sock: Socket) {
    const onChunk = (d: Buffer): void => {
      this.chunks.push(d)
      this.queued += d.length
      this.total += d.length
      if (this.queued > HIGH_WATER && !this.paused) {
        this.paused = true
        sock.pause()
      }
      this.notify()
    }
    // Sockets from lean-socket.ts hand over chunks read into a shared buffer; others emit 'data'.
    this.lean = onLeanData(sock, onChunk)
    if (!this.lean) sock.on('data', onChunk)
    sock.on('end', () => {
      this.ended = true
      this.notify()
    })
    sock.on('close', () => {
      this.ended = true
      this.notify()
    })
    sock.on('error', (e) => {
      this.error = e
      this.notify()
    })
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private waitData(): Promise<void> {
    if (this.held) {
      this.held = false
      if (!this.paused && !this.direct) this.sock.resume()
    }
    return new Promise((r) => (this.wake = r))
  }

  /**
   * Stop reading ahead until the next wait for data (which resumes) or a native receive (which
   * takes over): called by a server that has just read the header of a large body, so the body
   * stays in the kernel for `intoFile` instead of being read into the heap meanwhile. Only for
   * lean sockets with native receives enabled (their pause stops reads at once); else a no-op.
   */
  holdReads(): void {
    if (this.nativeTimeoutMs === undefined || !this.lean || this.held || this.direct || this.paused) return
    this.held = true
    this.sock.pause()
  }

  /** Bytes already received and not yet consumed. */
  get buffered(): number {
    return this.queued
  }

  private take(n: number): Buffer {
    let out: Buffer
    const first = this.chunks[0]
    if (first.length === n) {
      this.chunks.shift()
      out = first
    } else if (first.length > n) {
      out = first.subarray(0, n)
      this.chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let off = 0
      while (off < n) {
        const c = this.chunks[0]
        const k = Math.min(c.length, n - off)
        c.copy(out, off, 0, k)
        off += k
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.queued -= n
    if (this.paused && !this.direct && this.queued < HIGH_WATER / 2) {
      this.paused = false
      this.sock.resume()
    }
    return out
  }

  /**
   * Exactly `n` bytes if they are already buffered, else `undefined` (nothing
   * consumed). The synchronous fast path for request loops: most requests arrive
   * in one segment, and skipping the promise round trip per field is most of
   * the per-request cost of a small request.
   */
  tryRead(n: number): Buffer | undefined {
    if (n === 0) return EMPTY
    return this.queued >= n ? this.take(n) : undefined
  }

  /**
   * The next `n` bytes without consuming them, when they are already buffered in one piece
   * (the usual case for a small request that arrived in one segment); else `undefined`.
   * The view is valid until the next read; `tryRead(n)` then consumes them.
   */
  peek(n: number): Buffer | undefined {
    if (n === 0) return EMPTY
    const first = this.chunks[0]
    return first !== undefined && first.length >= n ? first.subarray(0, n) : undefined
  }

  /** Bytes received since the connection opened (progress probe for idle sweeps). */
  get received(): number {
    return this.total
  }

  /** Exactly `n` bytes; rejects with PeerClosedError if the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.queued < n) {
      if (this.error) throw this.error
      if (this.ended) throw new PeerClosedError(`peer closed with ${n - this.queued} of ${n} bytes missing`)
      await this.waitData()
    }
    return n === 0 ? EMPTY : this.take(n)
  }

  /** True once the peer closed and everything received has been consumed. */
  async atEof(): Promise<boolean> {
    if (this.queued > 0) return false
    while (this.queued === 0) {
      if (this.ended || this.error) return true
      await this.waitData()
    }
    return false
  }

  /**
   * The next line without its `\n` (and a `\r` before it). `undefined` at a clean
   * EOF. Throws when a line exceeds `max` bytes (the caller answers with its
   * protocol's error and closes).
   */
  async readLine(max = 64 * 1024): Promise<string | undefined> {
    for (;;) {
      const idx = this.indexOfNewline()
      if (idx >= 0) {
        const buf = this.take(idx + 1)
        let end = buf.length - 1
        if (end > 0 && buf[end - 1] === 0x0d) end--
        return buf.toString('latin1', 0, end)
      }
      if (this.queued > max) throw new Error(`line longer than ${max} bytes`)
      if (this.error) throw this.error
      if (this.ended) {
        if (this.queued === 0) return undefined
        const rest = this.take(this.queued)
        return rest.toString('latin1')
      }
      await this.waitData()
    }
  }

  private indexOfNewline(): number {
    let base = 0
    for (const c of this.chunks) {
      const i = c.indexOf(0x0a)
      if (i >= 0) return base + i
      base += c.length
    }
    return -1
  }

  /**
   * Exactly `n` bytes as a body: iterate it for chunks (no copy where possible; rejects on early
   * EOF), or hand it to a blob store, whose put may call `intoFile` to receive it natively.
   */
  body(n: number): DirectBody<Buffer> {
    let claimed = false
    return {
      [Symbol.asyncIterator]: () => {
        claimed = true
        return this.chunksOf(n)
      },
      intoFile: (fd: number, position: number) => {
        if (claimed) return undefined
        const p = this.intoFile(n, fd, position)
        if (p) claimed = true
        return p
      },
    }
  }

  private async *chunksOf(n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.queued === 0) {
        if (this.error) throw this.error
        if (this.ended) throw new PeerClosedError(`peer closed with ${left} body bytes missing`)
        await this.waitData()
        continue
      }
      const k = Math.min(left, this.chunks[0].length)
      left -= k
      yield this.take(k)
    }
  }

  /**
   * The next `n` bytes written into file `fd` from `position` by a native receive
   * (engine/io/recv-file.ts): what is buffered here goes first, the rest is read from the
   * socket on a thread-pool thread, its CRC-32 computed on the way. Undefined when that does
   * not apply (not enabled, not a lean socket, a small or already-received body, no free pool
   * slot, no addon): nothing is consumed. Our reads are stopped for the duration (the native
   * side never reads past the body, so a pipelined next request waits in the kernel). On
   * failure the connection is closed (part of the body is gone) and the promise rejects with
   * PeerClosedError when the peer went away, else with the native error.
   */
  private intoFile(n: number, fd: number, position: number): Promise<{ bytes: number; crc32: number }> | undefined {
    const timeout = this.nativeTimeoutMs
    if (timeout === undefined || !this.lean || this.direct || n < DIRECT_MIN_BODY || n - this.queued < DIRECT_MIN_UNREAD) return undefined
    if (this.ended || this.error || this.sock.destroyed || !slotFree() || !recvFileAvailable(true)) return undefined
    const sockFd = socketFd(this.sock)
    if (sockFd === undefined) return undefined
    const prefix = this.queued > 0 ? this.take(this.queued) : EMPTY
    this.direct = true
    this.held = false
    this.sock.pause()
    takeSlot(this.sock)
    let cancel: (() => void) | undefined
    const onClose = (): void => cancel?.()
    this.sock.once('close', onClose)
    const rest = n - prefix.length
    return recvToFile(sockFd, fd, position, prefix, rest, 0, true, timeout, (c) => (cancel = c)).then(
      (crc) => {
        this.total += rest
        this.finishDirect(onClose)
        return { bytes: n, crc32: crc }
      },
      (e: NodeJS.ErrnoException & { bytesReceived?: number }) => {
        this.total += e.bytesReceived ?? 0
        this.finishDirect(onClose)
        this.sock.destroy()
        if (e.code === 'ECONNRESET' || e.code === 'ECANCELED' || e.code === 'EPIPE') {
          throw new PeerClosedError(`peer closed with ${rest - (e.bytesReceived ?? 0)} body bytes missing`)
        }
        throw e
      },
    )
  }

  private finishDirect(onClose: () => void): void {
    releaseSlot(this.sock)
    this.sock.off('close', onClose)
    this.direct = false
    if (!this.paused && !this.sock.destroyed) this.sock.resume()
  }

  /** Read and drop `n` bytes (e.g. the body of a rejected upload, to keep the connection usable). */
  async skip(n: number): Promise<void> {
    for await (const _ of this.chunksOf(n)) {
      // discard
    }
  }
}
