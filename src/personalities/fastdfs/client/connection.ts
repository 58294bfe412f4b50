/**
 * One FastDFS TCP connection (tracker or storage) and a pool of persistent
 * connections keyed by `host:port`.
 *
 * Requests are written header+fixed fields in one write; file bodies are
 * streamed with backpressure (never buffered whole). Replies are read with
 * SocketReader; a non-zero status becomes an FdfsError(STATUS, errno).
 *
 * The pool keeps idle connections and probes one with ACTIVE_TEST (111) before
 * reuse when it has been idle for a while, like the C client's connection pool.
 * Used by TrackerClient, StorageClient and FdfsClient.
 */
import type { Socket } from 'node:net'
import { COMMON_CMD, HEADER_SIZE, RESP } from '../protocol/constants.js'
import { encodeHeader } from '../protocol/header.js'
import { SocketReader } from '../../../server/socket-reader.js'
import { leanConnect } from '../../../server/lean-socket.js'
import { CLIENT_ERROR, FdfsError, strerror } from './errors.js'
import type { HostPort } from './client-conf.js'

export interface Timeouts {
  /** Connect timeout, ms. */
  connectMs: number
  /** Max silence on an established connection, ms. */
  networkMs: number
}

export class FdfsConnection {
  readonly reader: SocketReader
  /** Set when a request failed midway; such a connection is never reused. */
  broken = false
  lastUsed = Date.now()

  private constructor(
    readonly sock: Socket,
    readonly host: string,
    readonly port: number,
  ) {
    this.reader = new SocketReader(sock)
  }

  get key(): string {
    return `${this.host}:${this.port}`
  }

  /** Connect with a timeout. Throws FdfsError(CONNECT) with ECONNREFUSED / ETIMEDOUT errnos. */
  static connect(hp: HostPort, t: Timeouts): Promise<FdfsConnection> {
    return new Promise((resolve, reject) => {
      const sock = leanConnect({ host: hp.host, port: hp.port, noDelay: true })
      const timer = setTimeout(() => {
        sock.destroy()
        reject(new FdfsError(CLIENT_ERROR.CONNECT, 110, `connect to server ${hp.host}:${hp.port} fail, errno: 110, error info: ${strerror(110)}`))
      }, t.connectMs)
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        const n = errnoOf(e)
        reject(new FdfsError(CLIENT_ERROR.CONNECT, n, `connect to server ${hp.host}:${hp.port} fail, errno: ${n}, error info: ${strerror(n)}`))
      })
      sock.once('connect', () => {
        clearTimeout(timer)
        sock.removeAllListeners('error')
        sock.on('error', () => {})
        // Why a socket-level idle timeout: a storage that stops answering mid-transfer
        // must not hang the client forever; network_timeout is the C client's limit.
        sock.setTimeout(t.networkMs, () => sock.destroy(new FdfsError(CLIENT_ERROR.NETWORK, 110, `no data from ${hp.host}:${hp.port} for ${t.networkMs} ms`)))
        resolve(new FdfsConnection(sock, hp.host, hp.port))
      })
    })
  }

  /** Write bytes, waiting for the socket to drain when its buffer is full. */
  write(buf: Buffer): Promise<void> {
    if (this.sock.destroyed) return Promise.reject(this.netErr('connection closed'))
    if (this.sock.write(buf)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.sock.off('close', onClose)
        resolve()
      }
      const onClose = () => {
        this.sock.off('drain', onDrain)
        reject(this.netErr('connection closed while sending'))
      }
      this.sock.once('drain', onDrain)
      this.sock.once('close', onClose)
    })
  }

  /** Send header (with `bodyLen`) and the given fixed parts in one write. */
  send(cmd: number, bodyLen: number | bigint, parts: Buffer[] = [], status = 0): Promise<void> {
    this.lastUsed = Date.now()
    return this.write(Buffer.concat([encodeHeader(bodyLen, cmd, status), ...parts]))
  }

  /**
   * Stream exactly `size` bytes from `src` onto the socket. Throws (and marks
   * the connection broken) when the source ends early or yields too much.
   */
  async pipeFrom(src: AsyncIterable<Buffer | string>, size: number, onProgress?: (n: number) => void): Promise<void> {
    let sent = 0
    try {
      for await (const chunk of src) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
        if (sent + b.length > size) throw new FdfsError(CLIENT_ERROR.ARGUMENT, 22, `source yields more than the announced ${size} bytes`)
        await this.write(b)
        sent += b.length
        onProgress?.(sent)
      }
    } catch (e) {
      this.broken = true
      throw e
    }
    if (sent !== size) {
      this.broken = true
      throw new FdfsError(CLIENT_ERROR.ARGUMENT, 5, `source ended after ${sent} of ${size} bytes`)
    }
  }

  /**
   * Read a reply header. Status != 0 → FdfsError(STATUS, status) after skipping
   * any body (so the connection stays usable). Returns the body length.
   */
  async recvHeader(): Promise<number> {
    let h: Buffer
    try {
      h = await this.reader.read(HEADER_SIZE)
    } catch (e) {
      this.broken = true
      throw this.wrap(e)
    }
    const len = h.readBigInt64BE(0)
    if (h[8] !== RESP || len < 0n || len > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.broken = true
      throw new FdfsError(CLIENT_ERROR.PROTOCOL, 5, `bad reply header from ${this.key}: cmd ${h[8]}, length ${len}`)
    }
    const n = Number(len)
    if (h[9] !== 0) {
      if (n > 0) {
        if (n > 1024 * 1024) this.broken = true
        else await this.reader.skip(n).catch(() => (this.broken = true))
      }
      throw new FdfsError(CLIENT_ERROR.STATUS, h[9], `server: ${this.key}, response status ${h[9]} != 0`)
    }
    return n
  }

  /** Read a small reply body; enforces `max` (and `exact` when given). */
  async recv(max: number, exact?: number): Promise<Buffer> {
    const n = await this.recvHeader()
    if (n > max || (exact !== undefined && n !== exact)) {
      this.broken = true
      throw new FdfsError(CLIENT_ERROR.PROTOCOL, 22, `reply body ${n} bytes from ${this.key}, expected ${exact ?? `<= ${max}`}`)
    }
    try {
      const b = await this.reader.read(n)
      this.lastUsed = Date.now()
      return b
    } catch (e) {
      this.broken = true
      throw this.wrap(e)
    }
  }

  /** A request whose reply is a small body: send then recv. */
  async call(cmd: number, parts: Buffer[], max: number, exact?: number, status = 0): Promise<Buffer> {
    const len = parts.reduce((a, b) => a + b.length, 0)
    await this.send(cmd, len, parts, status).catch((e) => {
      this.broken = true
      throw this.wrap(e)
    })
    return this.recv(max, exact)
  }

  /** Send QUIT and close (what well-behaved clients do). */
  quit(): void {
    if (this.sock.destroyed) return
    this.sock.end(encodeHeader(0, COMMON_CMD.QUIT))
  }

  destroy(): void {
    this.sock.destroy()
  }

  get usable(): boolean {
    return !this.broken && !this.sock.destroyed && this.reader.buffered === 0
  }

  private netErr(msg: string): FdfsError {
    return new FdfsError(CLIENT_ERROR.NETWORK, 104, `${this.key}: ${msg}`)
  }

  wrap(e: unknown): FdfsError {
    if (e instanceof FdfsError) return e
    return new FdfsError(CLIENT_ERROR.NETWORK, errnoOf(e as NodeJS.ErrnoException), `${this.key}: ${(e as Error).message}`)
  }
}

function errnoOf(e: NodeJS.ErrnoException): number {
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 111
    case 'ETIMEDOUT':
      return 110
    case 'ECONNRESET':
      return 104
    case 'EHOSTUNREACH':
      return 113
    case 'ENOENT':
      return 2
    default:
      return typeof e?.errno === 'number' ? Math.abs(e.errno) : 5
  }
}

/**
 * Why 30 s: an idle socket older than that may have been dropped by the server
 * or a middlebox; one ACTIVE_TEST round trip is cheaper than a failed request.
 */
const PROBE_AFTER_MS = 30_000
/** Why 1 h: the C client's connection_pool_max_idle_time default. */
const MAX_IDLE_MS = 3_600_000

export class ConnectionPool {
  private readonly idle = new Map<string, FdfsConnection[]>()

  constructor(readonly timeouts: Timeouts) {}

  /** A connection to `hp`: an idle one (probed if old) or a new one. */
  async get(hp: HostPort): Promise<FdfsConnection> {
    const list = this.idle.get(`${hp.host}:${hp.port}`)
    while (list && list.length) {
      const c = list.pop()!
      const age = Date.now() - c.lastUsed
      if (!c.usable || age > MAX_IDLE_MS) {
        c.destroy()
        continue
      }
      if (age > PROBE_AFTER_MS) {
        try {
          await c.call(COMMON_CMD.ACTIVE_TEST, [], 0)
        } catch {
          c.destroy()
          continue
        }
      }
      return c
    }
    return FdfsConnection.connect(hp, this.timeouts)
  }

  /** Give a connection back; broken ones are closed. */
  release(c: FdfsConnection): void {
    if (!c.usable) {
      c.destroy()
      return
    }
    c.lastUsed = Date.now()
    const list = this.idle.get(c.key) ?? []
    list.push(c)
    this.idle.set(c.key, list)
  }

  /** Run `fn` on a pooled connection to `hp`, releasing it afterwards. */
  async with<T>(hp: HostPort, fn: (c: FdfsConnection) => Promise<T>): Promise<T> {
    const c = await this.get(hp)
    try {
      return await fn(c)
    } catch (e) {
      if (!(e instanceof FdfsError) || e.code !== CLIENT_ERROR.STATUS) c.broken = true
      throw e
    } finally {
      this.release(c)
    }
  }

  /** QUIT every idle connection. */
  close(): void {
    for (const list of this.idle.values()) for (const c of list) c.quit()
    this.idle.clear()
  }
}
