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

const HIGH_WATER = 1024 * 1024
const EMPTY = Buffer.alloc(0)

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
    if (!onLeanData(sock, onChunk)) sock.on('data', onChunk)
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
    return new Promise((r) => (this.wake = r))
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
    if (this.paused && this.queued < HIGH_WATER / 2) {
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

  /** Stream exactly `n` bytes as chunks (no copy where possible). Rejects on early EOF. */
  async *body(n: number): AsyncGenerator<Buffer> {
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

  /** Read and drop `n` bytes (e.g. the body of a rejected upload, to keep the connection usable). */
  async skip(n: number): Promise<void> {
    for await (const _ of this.body(n)) {
      // discard
    }
  }
}
