/**
 * One FastDFS request being served: the body is consumed only through this
 * object so the dispatcher knows how many bytes are left after a handler
 * (to drain them after an error reply, or close when too many).
 */
import type { Socket } from 'node:net'
import type { SocketReader } from '../../../server/socket-reader.js'
import { respHeader, getFixed } from '../protocol/header.js'
import { FIELD } from '../protocol/constants.js'
import { einval } from './errors.js'

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
    const b = await this.reader.read(n)
    this.left -= n
    return b
  }

  /** The rest of the body (small control bodies only; callers bound `left` first). */
  async rest(): Promise<Buffer> {
    return this.read(this.left)
  }

  /** Stream `n` more body bytes. */
  async *body(n: number): AsyncGenerator<Buffer> {
    if (n > this.left) throw einval(`body too short: need ${n}, ${this.left} left`)
    for await (const c of this.reader.body(n)) {
      this.left -= c.length
      yield c
    }
  }

  /** Reply status 0 with `body` in one write. */
  ok(body?: Buffer): void {
    this.replied = true
    if (!body || body.length === 0) this.sock.write(respHeader(0, 0))
    else this.sock.write(Buffer.concat([respHeader(body.length, 0), body]))
  }

  /** Reply with an errno and no body. */
  fail(errno: number): void {
    this.replied = true
    this.sock.write(respHeader(0, errno))
  }
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
