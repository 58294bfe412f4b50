/**
 * A tiny raw-protocol FastDFS client for storage integration tests: frames
 * requests by hand and reads replies, so tests see exactly what goes over the
 * wire (not the product client library).
 */
import { rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from './proc.js'

export interface RawReply {
  cmd: number
  status: number
  body: Buffer
}

export function header(len: number | bigint, cmd: number, status = 0): Buffer {
  const b = Buffer.alloc(10)
  b.writeBigInt64BE(BigInt(len))
  b[8] = cmd
  b[9] = status
  return b
}

export function long(n: number | bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(BigInt(n))
  return b
}

export function fixedField(s: string, width: number): Buffer {
  const b = Buffer.alloc(width)
  b.write(s, 'latin1')
  return b
}

export class RawConn {
  private buf = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  private ended = false
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      this.wake()
    })
    sock.on('close', () => {
      this.ended = true
      this.wake()
    })
    sock.on('error', () => {
      this.ended = true
      this.wake()
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, noDelay: true }, () => resolve(new RawConn(s)))
      s.once('error', reject)
    })
  }

  write(b: Buffer): void {
    this.sock.write(b)
  }

  send(cmd: number, body: Buffer = Buffer.alloc(0), status = 0): void {
    this.sock.write(Buffer.concat([header(body.length, cmd, status), body]))
  }

  private async need(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      if (this.ended) return false
      await new Promise<void>((r) => this.waiters.push(r))
    }
    return true
  }

  /** Next reply; rejects if the server closed first. */
  async reply(): Promise<RawReply> {
    if (!(await this.need(10))) throw new Error('connection closed before a reply header')
    const len = Number(this.buf.readBigInt64BE(0))
    const cmd = this.buf[8]
    const status = this.buf[9]
    if (!(await this.need(10 + len))) throw new Error('connection closed mid reply body')
    const body = this.buf.subarray(10, 10 + len)
    this.buf = this.buf.subarray(10 + len)
    return { cmd, status, body: Buffer.from(body) }
  }

  async call(cmd: number, body: Buffer = Buffer.alloc(0), status = 0): Promise<RawReply> {
    this.send(cmd, body, status)
    return this.reply()
  }

  /** Resolves true once the server closed the connection (no bytes expected before). */
  async closedByPeer(): Promise<boolean> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r))
    return true
  }

  end(): void {
    this.sock.end()
  }

  destroy(): void {
    this.sock.destroy()
  }
}

/** UPLOAD_FILE / UPLOAD_APPENDER body: path index 1, size 8, ext 6, data. */
export function uploadBody(data: Buffer, ext = 'bin', pathIndex = 0): Buffer {
  return Buffer.concat([Buffer.of(pathIndex), long(data.length), fixedField(ext, 6), data])
}

/** `group 16 + name`. */
export function groupName(group: string, name: string): Buffer {
  return Buffer.concat([fixedField(group, 16), Buffer.from(name, 'latin1')])
}

export function downloadBody(group: string, name: string, offset = 0, length = 0): Buffer {
  return Buffer.concat([long(offset), long(length), groupName(group, name)])
}

export function setMetaBody(group: string, name: string, flag: 'O' | 'M', meta: Buffer): Buffer {
  const n = Buffer.from(name, 'latin1')
  return Buffer.concat([long(n.length), long(meta.length), Buffer.from(flag), fixedField(group, 16), n, meta])
}

export function slaveBody(master: string, prefix: string, ext: string, data: Buffer): Buffer {
  const m = Buffer.from(master, 'latin1')
  return Buffer.concat([long(m.length), long(data.length), fixedField(prefix, 16), fixedField(ext, 6), m, data])
}

export function appendBody(name: string, data: Buffer): Buffer {
  const n = Buffer.from(name, 'latin1')
  return Buffer.concat([long(n.length), long(data.length), n, data])
}

export function modifyBody(name: string, offset: number, data: Buffer): Buffer {
  const n = Buffer.from(name, 'latin1')
  return Buffer.concat([long(n.length), long(offset), long(data.length), n, data])
}

export function truncateBody(name: string, size: number): Buffer {
  const n = Buffer.from(name, 'latin1')
  return Buffer.concat([long(n.length), long(size), n])
}

/** Remote name out of an upload reply body (group 16 + name). */
export function remoteOf(body: Buffer): string {
  return body.subarray(16).toString('latin1')
}


export interface TestStorage {
  dir: string
  port: number
  conf: string
  daemon: Daemon
  /** Restart the same config (after stop/kill). */
  restart(): Promise<void>
  /** Graceful stop, then remove the temp dir. */
  destroy(): Promise<void>
}

/**
 * Run `bin/fdfs_storaged <conf> --foreground` in a temp dir on a free port. The
 * tracker_server points at `tracker` or else at a free port nobody listens on: the storage must serve anyway.
 */
export async function startTestStorage(tag: string, extra = '', tracker?: number): Promise<TestStorage> {
  const dir = tmpDir(tag)
  const port = await freePort()
  const trackerPort = tracker ?? (await freePort())
  const conf = path.join(dir, 'storage.conf')
  writeFileSync(
    conf,
    [
      'group_name = group1',
      'bind_addr = 127.0.0.1',
      `port = ${port}`,
      'base_path = .',
      'store_path_count = 1',
      'store_path0 = ./store0',
      `tracker_server = 127.0.0.1:${trackerPort}`,
      'heart_beat_interval = 1',
      'network_timeout = 10',
      'an_unknown_key = whatever',
      extra,
    ].join('\n') + '\n',
  )
  const s: TestStorage = {
    dir,
    port,
    conf,
    daemon: spawnDaemon('storaged', 'fdfs_storaged', [conf, '--foreground'], dir),
    async restart() {
      s.daemon = spawnDaemon('storaged', 'fdfs_storaged', [conf, '--foreground'], dir)
      await waitForPort('127.0.0.1', port)
    },
    async destroy() {
      await s.daemon.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await waitForPort('127.0.0.1', port)
  return s
}
