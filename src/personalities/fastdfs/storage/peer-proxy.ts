/**
 * Read routing that never 404s on sync lag (issue 4, item 3), storage side.
 *
 * A storage asked (DOWNLOAD 14, GET_METADATA 15, QUERY_FILE_INFO 22) for a
 * file it does not have, whose name says another member of our group created
 * it recently (within storage_sync_file_max_delay, from the tracker's
 * parameters), or asked while we are still being bootstrapped, forwards the
 * same request to a member that holds it and relays the reply. Members are
 * asked in holders.ts order (the creator, decoded from the file name, first;
 * then the other ACTIVE members); one that is unreachable or answers ENOENT
 * passes the request to the next, the first other answer is relayed. When
 * none has it the caller answers ENOENT itself.
 *
 * No loops: the proxy announces itself with REPORT_SERVER_ID (9) on its
 * connections, and a storage never proxies a request that arrived on a
 * connection that announced a peer (handlers-sync.ts `syncPeerOf`).
 * Called by handlers-file.ts through `StorageContext.proxyMissing`.
 */
import net from 'node:net'
import { logger } from '../../../log.js'
import type { SocketReader } from '../../../server/socket-reader.js'
import { connectPeer } from '../sync/peer-connect.js'
import { ERRNO, HEADER_SIZE, STORAGE_STATUS as S } from '../protocol/constants.js'
import { decodeHeader, encodeHeader, respHeader } from '../protocol/header.js'
import type { DecodedFileName } from '../file-id.js'
import { syncPeerOf } from './handlers-sync.js'
import { readCandidates } from './holders.js'
import type { Request } from './request.js'
import type { StorageBrief } from './tracker-reporter.js'

const log = logger('fastdfs.storage.proxy')

/** Why 4: proxying is the rare sync-lag path; a few idle connections per peer avoid reconnects in bursts. */
const MAX_IDLE_PER_PEER = 4
/** Replies up to this size are read whole and sent in one write; larger ones are streamed. */
const SMALL_REPLY = 64 * 1024
/** Why 3 s: peers are on the same LAN; a connect (and its REPORT_SERVER_ID answer) that takes longer means that member is down (we ask the next one). */
const CONNECT_TIMEOUT_MS = 3000

export interface ProxyDeps {
  /** Our own source field in file names (ip or numeric id as a string). */
  selfSource(): string
  /** Our wire identity for REPORT_SERVER_ID (and to never list ourselves as a holder). */
  myId(): string
  /** Group membership from the trackers (ourselves included); empty before the first tracker answer. */
  peers(): StorageBrief[]
  /** storage_sync_file_max_delay in seconds (tracker parameter, default 1 day). */
  maxDelaySec(): number
  /** Our own status as the trackers see it (proxy everything before we caught up). */
  myStatus(): number
  /** network_timeout in seconds: bounds a stalled proxied reply. */
  networkTimeoutSec: number
  /** bind_addr to connect from; absent = any. */
  localAddress?: string
}

interface Conn {
  sock: net.Socket
  reader: SocketReader
  key: string
}

/** Forwards reads for files this storage lacks to a group member that holds them. */
export class PeerProxy {
  private idle = new Map<string, Conn[]>()
  private closed = false

  constructor(private readonly d: ProxyDeps) {}

  /** The members to ask for `f`, in order, when proxying applies; empty otherwise (we created it, or it is too old to be lag). */
  targets(f: DecodedFileName): StorageBrief[] {
    if (f.source === this.d.selfSource()) return []
    const st = this.d.myStatus()
    const bootstrapping = st === S.INIT || st === S.WAIT_SYNC || st === S.SYNCING
    const age = Math.floor(Date.now() / 1000) - f.timestamp
    if (!bootstrapping && age > this.d.maxDelaySec()) return []
    return readCandidates(f, this.d.peers(), this.d.myId())
  }

  /**
   * Forward `req` (its whole body already read into `body`) to the first
   * member that has `f` and relay its reply. Returns false when proxying does
   * not apply or no member could answer other than ENOENT (the caller then
   * answers ENOENT itself).
   */
  async forward(req: Request, f: DecodedFileName, body: Buffer): Promise<boolean> {
    if (this.closed || syncPeerOf(req.sock)) return false
    for (const p of this.targets(f)) {
      if (this.closed) return false
      if ((await this.ask(req, f, body, p)) === 'answered') return true
    }
    return false
  }

  /** Ask one member: 'answered' once its reply went to the client, 'next' when it is unreachable or lacks the file. */
  private async ask(req: Request, f: DecodedFileName, body: Buffer, p: StorageBrief): Promise<'answered' | 'next'> {
    // A pooled connection the peer closed while idle fails on first use: retry once on a fresh one.
    for (let attempt = 0; attempt < 2; attempt++) {
      let c: Conn & { pooled: boolean }
      try {
        c = await this.acquire(p, attempt === 0)
      } catch (e) {
        log.warn({ peer: `${p.ip}:${p.port}`, err: (e as Error).message }, 'group member unreachable for a proxied read; trying the next')
        return 'next'
      }
      const r = await this.once(req, f, body, p, c)
      if (r !== 'retry') return r
      if (!c.pooled) return 'next'
    }
    return 'next'
  }

  private async once(req: Request, f: DecodedFileName, body: Buffer, p: StorageBrief, c: Conn): Promise<'answered' | 'next' | 'retry'> {
    let reusable = false
    try {
      c.sock.setTimeout(this.d.networkTimeoutSec * 1000)
      c.sock.write(Buffer.concat([encodeHeader(body.length, req.cmd, req.status), body]))
      const h = decodeHeader(await c.reader.read(HEADER_SIZE))
      const len = Number(h.length)
      if (len < 0 || (h.status !== 0 && len > SMALL_REPLY)) throw new Error(`bad proxied reply length ${len}`)
      if (h.status !== 0) {
        if (len) await c.reader.skip(len)
        reusable = true
        if (h.status === ERRNO.ENOENT) {
          // That member has not got it either (a replica lagging like us): ask the next one.
          log.debug({ name: f.remote, peer: `${p.ip}:${p.port}` }, 'member lacks the file too')
          return 'next'
        }
        req.fail(h.status)
        return 'answered'
      }
      if (len <= SMALL_REPLY) {
        const b = await c.reader.read(len)
        reusable = true
        req.ok(b)
        return 'answered'
      }
      req.replied = true
      const out = req.sock
      out.write(respHeader(len, 0))
      for await (const chunk of c.reader.body(len)) {
        if (out.destroyed) throw new Error('client went away during a proxied download')
        if (!out.write(chunk)) await drained(out)
      }
      reusable = true
      log.debug({ name: f.remote, from: `${p.ip}:${p.port}`, bytes: len }, 'proxied read')
      return 'answered'
    } catch (e) {
      // Once our reply header went out the client stream is out of step: the dispatcher closes it.
      if (req.replied) {
        log.warn({ name: f.remote, peer: `${p.ip}:${p.port}`, err: (e as Error).message }, 'proxied read failed')
        throw e
      }
      log.debug({ name: f.remote, peer: `${p.ip}:${p.port}`, err: (e as Error).message }, 'proxied read attempt failed')
      return 'retry'
    } finally {
      c.sock.setTimeout(0)
      if (reusable) this.release(c)
      else c.sock.destroy()
    }
  }

  private async acquire(p: StorageBrief, pooledOk: boolean): Promise<Conn & { pooled: boolean }> {
    const key = `${p.ip}:${p.port}`
    const list = this.idle.get(key)
    while (pooledOk && list?.length) {
      const c = list.pop()!
      if (!c.sock.destroyed) return { ...c, pooled: true }
    }
    const { sock, reader } = await connectPeer({ host: p.ip, port: p.port, localAddress: this.d.localAddress, myId: this.d.myId(), timeoutMs: CONNECT_TIMEOUT_MS })
    sock.on('timeout', () => sock.destroy())
    return { sock, reader, key, pooled: false }
  }

  private release(c: Conn): void {
    c = { sock: c.sock, reader: c.reader, key: c.key }
    const list = this.idle.get(c.key) ?? []
    if (this.closed || list.length >= MAX_IDLE_PER_PEER || c.sock.destroyed) {
      c.sock.destroy()
      return
    }
    list.push(c)
    this.idle.set(c.key, list)
  }

  /** Close idle connections; later forwards answer false. */
  close(): void {
    this.closed = true
    for (const list of this.idle.values()) for (const c of list) c.sock.destroy()
    this.idle.clear()
  }
}

function drained(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done)
      sock.off('close', done)
      resolve()
    }
    sock.on('drain', done)
    sock.on('close', done)
  })
}
