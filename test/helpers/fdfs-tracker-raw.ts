/**
 * A raw FastDFS protocol client for tracker tests: sends exact header + body
 * bytes and reads one reply (header + body), so tests can speak the
 * storage->tracker protocol (JOIN/BEAT/...) and send malformed packets
 * without any of our client library in the way.
 */
import net from 'node:net'
import { encodeHeader } from '../../src/personalities/fastdfs/protocol/header.js'
import { encodeJoin, type JoinBody } from '../../src/personalities/fastdfs/tracker/join-body.js'

export interface RawReply {
  cmd: number
  status: number
  body: Buffer
}

export class RawFdfs {
  private buf = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  closed = false

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      this.wake()
    })
    sock.on('close', () => {
      this.closed = true
      this.wake()
    })
    sock.on('error', () => {})
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawFdfs> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress, noDelay: true }, () => resolve(new RawFdfs(s)))
      s.once('error', reject)
    })
  }

  /** Write raw bytes. */
  write(b: Buffer): void {
    this.sock.write(b)
  }

  /** Send a request with a correct header. */
  send(cmd: number, body: Buffer = Buffer.alloc(0), status = 0): void {
    this.sock.write(Buffer.concat([encodeHeader(body.length, cmd, status), body]))
  }

  private async need(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      if (this.closed) return false
      await new Promise<void>((r) => this.waiters.push(r))
    }
    return true
  }

  /** Next reply, or undefined when the server closed the connection first. */
  async reply(): Promise<RawReply | undefined> {
    if (!(await this.need(10))) return undefined
    const len = Number(this.buf.readBigInt64BE(0))
    if (!(await this.need(10 + len))) return undefined
    const r = { cmd: this.buf[8], status: this.buf[9], body: this.buf.subarray(10, 10 + len) }
    this.buf = this.buf.subarray(10 + len)
    return r
  }

  async call(cmd: number, body: Buffer = Buffer.alloc(0)): Promise<RawReply | undefined> {
    this.send(cmd, body)
    return this.reply()
  }

  /** Resolves true once the server closed the connection. */
  async waitClosed(): Promise<boolean> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r))
    return true
  }

  close(): void {
    this.sock.destroy()
  }
}

/** A plausible join body for a storage on `port` in `group`. */
export function joinBody(o: Partial<JoinBody> & { port: number }): Buffer {
  const now = Math.floor(Date.now() / 1000)
  return encodeJoin({
    group: 'group1',
    storePathCount: 1,
    subdirCount: 256,
    uploadPriority: 10,
    joinTime: now,
    upTime: now,
    version: '6.16.1',
    initFlag: false,
    status: 0,
    storageId: '',
    currentTrackerIp: '127.0.0.1',
    trackers: ['127.0.0.1:22122'],
    ...o,
  })
}

/** Group name field of `width` bytes. */
export function groupBuf(name: string, width = 16): Buffer {
  const b = Buffer.alloc(width)
  b.write(name, 0, 'latin1')
  return b
}
