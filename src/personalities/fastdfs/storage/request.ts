/**
 * One FastDFS request being served: the body is consumed only through this
 * object so the dispatcher knows how many bytes are left after a handler
 * (to drain them after an error reply, or close when too many).
 */
import type { Socket } from 'node:net'
import type { SocketReader } from '../../../server/socket-reader.js'
import type { DirectBody } from '../../../engine/blob/blob-store.js'
import { getFixed, writeLen } from '../protocol/header.js'
import { FIELD, HEADER_SIZE, RESP } from '../protocol/constants.js'
import { einval } from './errors.js'
import { leanWrite } from '../../../server/lean-socket.js'

/** Bodies up to this size that are already fully buffered are handed over as one chunk, without a generator. */
const INLINE_BODY = 256 * 1024

/** The status-only reply headers (body length 0), shared: they are never mutated after creation. */
const STATUS_REPLIES = new Map<number, Buffer>()

/** A 10-byte reply header for `length` body bytes and `status` in front of `extra` free bytes, all in one buffer. */
export function replyBuffer(length: number, status: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE + length)
  writeLen(b, 0, length)
  b[8] = RESP
  b[9] = status
  return b
}

export { writeLen }

/** Read an 8-byte big-endian signed integer as a number (negative or > 2^53 come out as -1: callers reject them). */
export function readLen(b: Buffer, off: number): number {
  const hi = b.readUInt32BE(off)
  if (hi >= 0x200000) return -1
  return hi * 0x100000000 + b.readUInt32BE(off + 4)
}

/** One buffer as an async iterable (cheaper than an async generator: one resolved promise per step). */
function oneChunk(b: Buffer): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]() {
      let done = false
      return {
        next(): Promise<IteratorResult<Buffer>> {
          if (done) return Promise.resolve({ done: true, value: undefined })
          done = true
          return Promise.resolve({ done: false, value: b })
        },
        return(): Promise<IteratorResult<Buffer>> {
          done = true
          return Promise.resolve({ done: true, value: undefined })
        },
      }
    },
  }
}

export class Request {
  /** Body bytes not consumed yet. */
  left: number
  /** Set once a reply header went out (then the dispatcher must not reply again). */
  replied = false

  constructor(
    readonly sock: Socket,
    readonly reader: SocketReader,
    readonly cmd: number,
    /** Header status byte (QUERY_FILE_INFO flags, SYNC_CREATE EEXIST hint). */
    readonly status: number,
    readonly length: number,
  ) {
    this.left = length
  }

  /** Read exactly `n` more body bytes (EINVAL when the body is shorter). */
  async read(n: number): Promise<Buffer> {
    if (n > this.left) throw einval(`body too short: need ${n}, ${this.left} left`)
    const b = this.reader.tryRead(n) ?? (await this.reader.read(n))
    this.left -= n
    return b
  }

  /**
   * `n` more body bytes if they are already buffered, else `undefined` (then
   * call `read`). Synchronous fast path for fixed fields. EINVAL when the body is shorter.
   */
  readNow(n: number): Buffer | undefined {
    if (n > this.left) throw einval(`body too short: need ${n}, ${this.left} left`)
    const b = this.reader.tryRead(n)
    if (b) this.left -= n
    return b
  }

  /** The rest of the body (small control bodies only; callers bound `left` first). */
  async rest(): Promise<Buffer> {
    return this.read(this.left)
  }

  /**
   * Stream `n` more body bytes (a small body that already arrived whole comes as one chunk).
   * A large one can also receive itself into a file natively (`intoFile`, see SocketReader).
   */
  body(n: number): DirectBody<Buffer> {
    if (n > this.left) throw einval(`body too short: need ${n}, ${this.left} left`)
    if (n > 0 && n <= INLINE_BODY) {
      const b = this.reader.tryRead(n)
      if (b) {
        this.left -= n
        return oneChunk(b)
      }
    }
    const inner = this.reader.body(n)
    return {
      [Symbol.asyncIterator]: () => this.counted(inner),
      intoFile: (fd, position) =>
        inner.intoFile?.(fd, position)?.then((r) => {
          this.left -= r.bytes
          return r
        }),
    }
  }

  private async *counted(inner: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of inner) {
      this.left -= c.length
      yield c
    }
  }

  /** Reply status 0 with `body` in one write. */
  ok(body?: Buffer): void {
    this.replied = true
    if (!body || body.length === 0) {
      leanWrite(this.sock, statusReply(0))
      return
    }
    const b = replyBuffer(body.length, 0)
    body.copy(b, HEADER_SIZE)
    leanWrite(this.sock, b)
  }

  /** Send a reply built with `replyBuffer` (header already filled in). */
  send(full: Buffer): void {
    this.replied = true
    leanWrite(this.sock, full)
  }

  /** Reply with an errno and no body. */
  fail(errno: number): void {
    this.replied = true
    leanWrite(this.sock, statusReply(errno))
  }
}

/** The shared status-only reply (header, no body) for `errno` (0 = success). Never mutate it. */
export function statusReply(errno: number): Buffer {
  let b = STATUS_REPLIES.get(errno)
  if (!b) {
    b = replyBuffer(0, errno)
    STATUS_REPLIES.set(errno, b)
  }
  return b
}

/** Group name field (16 bytes, stop at the first NUL) → compare with ours; EINVAL when different. */
export function checkGroup(buf: Buffer, off: number, mine: string): void {
  const g = getFixed(buf, off, FIELD.GROUP_NAME)
  if (g !== mine) throw einval(`group name "${g}" is not mine ("${mine}")`)
}

/** A remote filename from raw bytes: latin1 so odd bytes fail validation instead of being mangled. */
export function nameOf(buf: Buffer, off = 0, end = buf.length): string {
  const nul = buf.indexOf(0, off)
  return buf.toString('latin1', off, nul >= 0 && nul < end ? nul : end)
}
