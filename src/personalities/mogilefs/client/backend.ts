/**
 * Tracker connection with MogileFS::Backend's rules (spec §1.2): one request
 * line at a time, one reply line; trackers tried round-robin from a random
 * start, a tracker that failed is skipped for 5 s; the socket is kept for
 * reuse and dropped on any transport or framing error.
 */
import net from 'node:net'
import { encodeArgs, parseReplyLine } from '../protocol/args.js'
import { CLIENT_ERRORS as CE, MogileError } from './errors.js'

export interface BackendOptions {
  /** `host:port` strings (a missing port means 7001). */
  trackers: string[]
  /**
   * Seconds to wait for a reply line. Why 10 s rather than Backend's 3 s:
   * create_close makes the tracker HEAD (and with checksumverify, digest) the
   * stored file, and admin commands like fsck_reset run DB scans.
   */
  timeout?: number
  /** Seconds to wait for a TCP connect (Backend: 0.25 s per host; we allow 3 s for loaded boxes). */
  connectTimeout?: number
}

/** Why 5 s: Backend's dead-host retry window; long enough to not hammer a down tracker. */
const DEAD_RETRY_MS = 5000
const MAX_REPLY_LINE = 16 * 1024 * 1024

export type Args = Record<string, string | number | undefined | null>

export class Backend {
  private readonly hosts: { host: string; port: number; name: string }[]
  private readonly dead = new Map<string, number>()
  private lastIdx: number
  private sock?: net.Socket
  private buf = ''
  private readonly timeoutMs: number
  private readonly connectMs: number
  /** Serialises requests: the protocol is strictly one line in, one line out. */
  private chain: Promise<unknown> = Promise.resolve()

  constructor(o: BackendOptions) {
    if (!o.trackers.length) throw new MogileError(CE.NO_TRACKERS, 'no trackers configured')
    this.hosts = o.trackers.map((t) => {
      const m = /^(.*?)(?::(\d+))?$/.exec(t.trim()) as RegExpExecArray
      const port = m[2] ? Number(m[2]) : 7001
      return { host: m[1], port, name: `${m[1]}:${port}` }
    })
    this.lastIdx = Math.floor(Math.random() * this.hosts.length)
    this.timeoutMs = (o.timeout ?? 10) * 1000
    this.connectMs = (o.connectTimeout ?? 3) * 1000
  }

  /** Tracker the cached socket talks to (for messages), or undefined. */
  lastHost?: string

  /**
   * Send `cmd args` and return the decoded OK args. Throws MogileError: tracker
   * `ERR` (fromTracker=true) or a transport failure. Called by Client and Admin.
   */
  request(cmd: string, args: Args = {}): Promise<Record<string, string>> {
    const run = this.chain.then(
      () => this.doRequest(cmd, args),
      () => this.doRequest(cmd, args),
    )
    this.chain = run.catch(() => {})
    return run
  }

  private async doRequest(cmd: string, args: Args): Promise<Record<string, string>> {
    const line = `${cmd} ${encodeArgs(args)}\r\n`
    let reply: string | undefined
    if (this.sock && !this.sock.destroyed) {
      // A cached socket may have been closed by the tracker meanwhile: retry once on a fresh one.
      reply = await this.exchange(this.sock, line).catch((e: Error) => {
        this.drop()
        // Only a cached socket that the tracker had already closed is retried;
        // a timeout may mean the command is running, so it is not re-sent.
        if (e instanceof MogileError) throw e
        return undefined
      })
    }
    if (reply === undefined) {
      const s = await this.connectAny()
      this.sock = s
      reply = await this.exchange(s, line).catch((e: Error) => {
        this.drop()
        throw e instanceof MogileError ? e : new MogileError(CE.CONNECT, `error talking to mogilefsd tracker: ${e.message}`)
      })
    }
    const r = parseReplyLine(reply)
    if (!r) {
      this.drop()
      throw new MogileError(CE.PROTOCOL, `invalid response from server: [${reply}]`)
    }
    if (r.ok) return r.args
    throw new MogileError(r.code, r.message || '', true)
  }

  private drop(): void {
    this.sock?.destroy()
    this.sock = undefined
    this.buf = ''
  }

  /** Close the cached connection (end of a CLI run). */
  close(): void {
    this.drop()
  }

  private async connectAny(): Promise<net.Socket> {
    const tries = Math.min(this.hosts.length, 15)
    const now = Date.now()
    for (let i = 0; i < tries; i++) {
      this.lastIdx = (this.lastIdx + 1) % this.hosts.length
      const h = this.hosts[this.lastIdx]
      const d = this.dead.get(h.name)
      if (d && d > now - DEAD_RETRY_MS) continue
      try {
        const s = await this.connect(h.host, h.port)
        this.lastHost = h.name
        this.buf = ''
        return s
      } catch {
        this.dead.set(h.name, Date.now())
      }
    }
    throw new MogileError(CE.CONNECT, "couldn't connect to mogilefsd backend")
  }

  private connect(host: string, port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, noDelay: true })
      const t = setTimeout(() => {
        s.destroy()
        reject(new Error('connect timeout'))
      }, this.connectMs)
      s.once('connect', () => {
        clearTimeout(t)
        s.removeAllListeners('error')
        s.on('error', () => {})
        s.setKeepAlive(true, 60_000)
        resolve(s)
      })
      s.once('error', (e) => {
        clearTimeout(t)
        reject(e)
      })
    })
  }

  private exchange(s: net.Socket, line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error, l?: string) => {
        clearTimeout(t)
        s.off('data', onData)
        s.off('close', onClose)
        if (err) reject(err)
        else resolve(l as string)
      }
      const onData = (d: Buffer) => {
        this.buf += d.toString('latin1')
        const i = this.buf.indexOf('\n')
        if (i >= 0) {
          const l = this.buf.slice(0, i).replace(/\r$/, '')
          this.buf = this.buf.slice(i + 1)
          done(undefined, l)
        } else if (this.buf.length > MAX_REPLY_LINE) done(new MogileError(CE.PROTOCOL, 'reply line too long'))
      }
      const onClose = () => done(new Error('socket closed on read'))
      const t = setTimeout(() => {
        done(new MogileError(CE.TIMEOUT, `timed out after ${this.timeoutMs / 1000}s against ${this.lastHost} when sending command: [${line}]`))
        this.drop()
      }, this.timeoutMs)
      s.on('data', onData)
      s.once('close', onClose)
      s.write(line, 'latin1')
    })
  }
}
