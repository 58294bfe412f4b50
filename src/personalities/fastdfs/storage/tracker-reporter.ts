/**
 * The storage's client side towards its trackers (spec §7.2), one loop per
 * tracker_server: GET_MY_IP (60), PARAMETER_REQ (75), then a persistent
 * connection with STORAGE_JOIN (81), SYNC_DEST_REQ (87) until the initial sync
 * is settled, BEAT (83) every heart_beat_interval and REPORT_DISK_USAGE (84)
 * every stat_report_interval. Replies to 83/84 carry the change flags (§7.3),
 * from which we learn the group's peers (`peers`, event 'peers'), which the
 * later sync sender needs. Started by the fdfs_storaged CLI; a tracker that is
 * down never stops the storage from serving clients.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import * as fsp from 'node:fs/promises'
import path from 'node:path'
import { SocketReader } from '../../../server/socket-reader.js'
import { leanConnect } from '../../../server/lean-socket.js'
import { writeFileAtomic } from '../../../engine/binlog/binlog.js'
import { logger } from '../../../log.js'
import { ERRNO, FIELD, FDFS_VERSION, STORAGE_STATUS, TRACKER_CMD as T, HEADER_SIZE } from '../protocol/constants.js'
import { decodeHeader, encodeHeader, getFixed, putFixed } from '../protocol/header.js'
import type { FileStore } from './store.js'
import type { StorageConfig, TrackerAddr } from './storage-conf.js'

const log = logger('fastdfs.storage.tracker')

/** One storage of our group as the tracker sees it. */
export interface StorageBrief {
  status: number
  port: number
  id: string
  ip: string
}

/**
 * Why capped exponential backoff (1 s doubling to 30 s): a tracker restart should
 * be noticed within seconds, while a tracker that is down for hours must not be
 * hammered by every storage of the cluster.
 */
const BACKOFF_MIN_MS = 1000
const BACKOFF_MAX_MS = 30_000
/** Why 30 s: a tracker that accepted the connection but never answers is dead for our purposes. */
const REPLY_TIMEOUT_MS = 30_000
/** Minimum gap between two SYNC_REPORTs on one tracker connection (why: see the beat loop). */
const SYNC_REPORT_MIN_MS = 200

class TrackerLink {
  private sock?: net.Socket
  private reader?: SocketReader
  constructor(
    readonly addr: TrackerAddr,
    /** Local address to connect from (bind_addr, like client_bind = true), or undefined. */
    readonly localAddress?: string,
  ) {}

  async connect(): Promise<void> {
    const sock = leanConnect({ host: this.addr.host, port: this.addr.port, noDelay: true, localAddress: this.localAddress })
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve)
      sock.once('error', reject)
    })
    sock.on('error', () => {})
    sock.setKeepAlive(true, 60_000)
    this.sock = sock
    this.reader = new SocketReader(sock)
  }

  /** Send a request and return the reply body; throws on a non-zero status (err.errno). */
  async call(cmd: number, body: Buffer = Buffer.alloc(0)): Promise<Buffer> {
    const sock = this.sock!
    sock.write(Buffer.concat([encodeHeader(body.length, cmd), body]))
    const timer = setTimeout(() => sock.destroy(new Error(`tracker ${this.addr.host}:${this.addr.port} reply timeout`)), REPLY_TIMEOUT_MS)
    try {
      const h = decodeHeader(await this.reader!.read(HEADER_SIZE))
      if (h.length < 0n || h.length > 1024n * 1024n) throw new Error(`bad reply length ${h.length}`)
      const b = await this.reader!.read(Number(h.length))
      if (h.status !== 0) throw Object.assign(new Error(`tracker replied status ${h.status} to cmd ${cmd}`), { errno: h.status })
      return b
    } finally {
      clearTimeout(timer)
    }
  }

  close(quit = true): void {
    if (!this.sock) return
    if (quit && !this.sock.destroyed) this.sock.end(encodeHeader(0, 82))
    else this.sock.destroy()
    this.sock = undefined
  }
}

/** What the reporter needs from the daemon (storaged.ts builds it). */
export interface ReporterOptions {
  cfg: StorageConfig
  store: FileStore
  /** Storage id for the join body (use_storage_id only). */
  storageId?: string
  /** Unix time the storage process started. */
  upTime: number
  /** Our sync senders' progress per peer, sent to our own trackers after each beat (TANDEM_SYNC_PROGRESS); absent = not sent. */
  progress?: () => Record<string, { behindBytes: number; behindRecords: number; parked: number; connected: boolean; lastSyncedTimestamp: number }>
}

/**
 * One reporting loop per tracker. Events: 'myIp' (string), 'params' (PARAMETER_REQ
 * key/values), 'peers' (StorageBrief[], tracker `host:port`). Absent tracker = retried with backoff forever.
 */
export class TrackerReporter extends EventEmitter {
  /** Our address as the trackers see it (from GET_MY_IP); '' until known. */
  myIp = ''
  /** Latest group membership from any tracker's change-flags reply. */
  peers: StorageBrief[] = []
  /** Last status a tracker gave us in the join reply. */
  myStatus = STORAGE_STATUS.INIT as number
  /** Parameters from PARAMETER_REQ (key=value). */
  params: Record<string, string> = {}
  private stopped = false
  private links = new Set<TrackerLink>()
  private wakers = new Set<() => void>()
  private joinTime = 0
  private syncOldDone = false
  /** Our initial-sync source (wire id) and until-timestamp from SYNC_DEST_REQ; '' / 0 when none. */
  syncSrc = ''
  syncUntil = 0
  /** Per source peer (wire id): source timestamp of the last sync record we applied (SYNC_REPORT 89). */
  private synced = new Map<string, number>()
  /** Bumped on every synced change; each tracker session remembers the version it reported. */
  private syncedVersion = 0
  private kicks = new Set<() => void>()
  private readonly stateFile: string
  /** Our address at the last join (saved), and as it was when this process started ('' = unknown). */
  private lastIp = ''
  private previousIp = ''
  /** Trackers (`host:port`) told about our ip change in this run. */
  private ipReported = new Set<string>()

  constructor(private readonly o: ReporterOptions) {
    super()
    this.stateFile = path.join(o.cfg.basePath, 'data', '.data_init_flag')
  }

  /** Load the persisted join time / sync state and start one loop per tracker. */
  async start(): Promise<void> {
    try {
      const t = await fsp.readFile(this.stateFile, 'utf8')
      this.joinTime = Number(/storage_join_time=(\d+)/.exec(t)?.[1] ?? 0)
      this.syncOldDone = /sync_old_done=1/.test(t)
      this.syncSrc = /sync_src_id=(\S+)/.exec(t)?.[1] ?? ''
      this.syncUntil = Number(/sync_until_timestamp=(\d+)/.exec(t)?.[1] ?? 0)
      this.lastIp = /last_ip_addr=(\S+)/.exec(t)?.[1] ?? ''
      this.previousIp = this.lastIp
    } catch {
      // first start
    }
    if (!this.joinTime) {
      this.joinTime = Math.floor(Date.now() / 1000)
      await this.saveState()
    }
    for (const t of this.o.cfg.trackers) void this.loop(t)
  }

  private localAddress(): string | undefined {
    const b = this.o.cfg.bindAddr
    return b && b !== '0.0.0.0' ? b : undefined
  }

  private async saveState(): Promise<void> {
    await writeFileAtomic(
      this.stateFile,
      `storage_join_time=${this.joinTime}\nsync_old_done=${this.syncOldDone ? 1 : 0}\nsync_src_id=${this.syncSrc}\nsync_until_timestamp=${this.syncUntil}\n` +
        (this.lastIp ? `last_ip_addr=${this.lastIp}\n` : ''),
    )
  }

  /**
   * In ip mode, a storage whose address changed since its last run tells each tracker once,
   * before joining it (STORAGE_REPORT_IP_CHANGED 78, like the C storage's
   * storage_ip_changed_auto_adjust), so the tracker moves its entry instead of seeing a new
   * storage, and files named after the old address stay readable. Answers the C storage takes
   * as done: 0, EALREADY, ENOENT, EEXIST, and EBUSY (the old entry still looks online). Any
   * other answer is logged and the join goes ahead: a storage is never kept from starting.
   */
  private async reportIpChange(addr: TrackerAddr, ip: string): Promise<void> {
    const key = `${addr.host}:${addr.port}`
    if (this.o.cfg.useStorageId || this.params.use_storage_id === 'true' || !this.previousIp || this.previousIp === ip || this.ipReported.has(key)) return
    const b = Buffer.alloc(FIELD.GROUP_NAME + 2 * FIELD.IP_ADDRESS_FULL)
    putFixed(b, 0, FIELD.GROUP_NAME, this.o.cfg.groupName)
    putFixed(b, FIELD.GROUP_NAME, FIELD.IP_ADDRESS_FULL - 1, this.previousIp)
    putFixed(b, FIELD.GROUP_NAME + FIELD.IP_ADDRESS_FULL, FIELD.IP_ADDRESS_FULL - 1, ip)
    try {
      await this.oneShot(addr, (l) => l.call(T.STORAGE_REPORT_IP_CHANGED, b))
      log.info({ tracker: key, from: this.previousIp, to: ip }, 'reported our ip change')
    } catch (e) {
      const errno = (e as { errno?: number }).errno
      const fine = errno === ERRNO.EALREADY || errno === ERRNO.ENOENT || errno === ERRNO.EEXIST || errno === ERRNO.EBUSY
      log[fine ? 'info' : 'warn']({ tracker: key, from: this.previousIp, to: ip, errno, err: (e as Error).message }, 'ip change report not applied')
      if (errno === undefined) throw e // no answer at all: the session fails and is retried
    }
    this.ipReported.add(key)
  }

  /** Stop all loops and close tracker connections. */
  stop(): void {
    this.stopped = true
    for (const l of this.links) l.close()
    for (const w of this.wakers) w()
  }

  /**
   * The sync receiver applied a record from `peer` (its wire id) with source
   * timestamp `ts`. Every tracker session sends SYNC_REPORT (89) soon after
   * (rate-limited, see SYNC_REPORT_MIN_MS) so the trackers route downloads to us.
   */
  noteSynced(peer: string, ts: number): void {
    if (!peer || ts <= (this.synced.get(peer) ?? 0)) return
    this.synced.set(peer, ts)
    this.syncedVersion++
    for (const k of [...this.kicks]) k()
  }

  /** One request to every configured tracker (REPORT_STATUS goes to all, like the C storage). Failures are logged. */
  async callAll(cmd: number, body: Buffer): Promise<Array<Buffer | undefined>> {
    return Promise.all(
      this.o.cfg.trackers.map((t) =>
        this.oneShot(t, (l) => l.call(cmd, body)).catch((e) => {
          const errno = (e as { errno?: number }).errno
          // An errno answer is the tracker's verdict (e.g. it does not know a new peer yet); no answer is a problem.
          log[errno === undefined ? 'warn' : 'debug']({ tracker: `${t.host}:${t.port}`, cmd, err: (e as Error).message, errno }, 'tracker request failed')
          return undefined
        }),
      ),
    )
  }

  /** Sleep `ms`, or less when noteSynced kicks us. */
  private sleepOrKick(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.wakers.delete(done)
        this.kicks.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.wakers.add(done)
      this.kicks.add(done)
    })
  }

  private syncReportBody(): Buffer {
    const b = Buffer.alloc(this.synced.size * (FIELD.STORAGE_ID + 4))
    let p = 0
    for (const [id, ts] of this.synced) {
      putFixed(b, p, FIELD.STORAGE_ID, id)
      b.writeUInt32BE(ts >>> 0, p + FIELD.STORAGE_ID)
      p += FIELD.STORAGE_ID + 4
    }
    return b
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.wakers.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.wakers.add(done)
    })
  }

  private async loop(addr: TrackerAddr): Promise<void> {
    let backoff = BACKOFF_MIN_MS
    while (!this.stopped) {
      const started = Date.now()
      try {
        await this.session(addr)
      } catch (e) {
        if (this.stopped) return
        log.warn({ tracker: `${addr.host}:${addr.port}`, err: (e as Error).message }, 'tracker connection failed, will retry')
      }
      if (Date.now() - started > BACKOFF_MAX_MS) backoff = BACKOFF_MIN_MS
      await this.sleep(backoff)
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
    }
  }

  private async oneShot<T>(addr: TrackerAddr, fn: (l: TrackerLink) => Promise<T>): Promise<T> {
    const l = new TrackerLink(addr, this.localAddress())
    this.links.add(l)
    try {
      await l.connect()
      return await fn(l)
    } finally {
      l.close()
      this.links.delete(l)
    }
  }

  private async session(addr: TrackerAddr): Promise<void> {
    const cfg = this.o.cfg
    const ipReq = Buffer.alloc(21)
    putFixed(ipReq, 0, 16, cfg.groupName)
    ipReq.writeInt32BE(cfg.port, 17)
    const ip = (await this.oneShot(addr, (l) => l.call(T.STORAGE_GET_MY_IP, ipReq))).toString('latin1').replace(/\0.*$/s, '')
    if (ip && ip !== this.myIp) {
      this.myIp = ip
      this.emit('myIp', ip)
    }
    const params = (await this.oneShot(addr, (l) => l.call(T.STORAGE_PARAMETER_REQ))).toString('utf8')
    for (const line of params.split('\n')) {
      const eq = line.indexOf('=')
      if (eq > 0) this.params[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
    }
    this.emit('params', this.params)

    await this.reportIpChange(addr, ip)

    const l = new TrackerLink(addr, this.localAddress())
    this.links.add(l)
    try {
      await l.connect()
      const reply = await l.call(T.STORAGE_JOIN, this.joinBody(addr))
      if (reply.length !== 17) throw new Error(`join reply of ${reply.length} bytes, expected 17`)
      this.myStatus = reply[0]
      if (ip && ip !== this.lastIp && !this.o.cfg.useStorageId) {
        this.lastIp = ip
        await this.saveState()
      }
      log.info({ tracker: `${addr.host}:${addr.port}`, status: this.myStatus, src: getFixed(reply, 1, 16) }, 'joined tracker')
      if (!this.syncOldDone) {
        // A brand-new storage asks once where its initial copy comes from (empty = nobody:
        // first storage of its group); the answer is persisted like storage's sync ini file.
        const d = await l.call(T.STORAGE_SYNC_DEST_REQ)
        if (d.length >= FIELD.STORAGE_ID + 8) {
          this.syncSrc = getFixed(d, 0, FIELD.STORAGE_ID)
          this.syncUntil = Number(d.readBigInt64BE(FIELD.STORAGE_ID))
        }
        log.info({ src: this.syncSrc, until: this.syncUntil }, 'sync destination reply')
        this.syncOldDone = true
        await this.saveState()
      }
      // Every join is followed by SYNC_NOTIFY with the recorded source (empty = none → ONLINE).
      const n = Buffer.alloc(FIELD.STORAGE_ID + 8)
      putFixed(n, 0, FIELD.STORAGE_ID, this.syncSrc)
      n.writeBigInt64BE(BigInt(this.syncUntil), FIELD.STORAGE_ID)
      await l.call(T.STORAGE_SYNC_NOTIFY, n).catch((e) => log.warn({ err: (e as Error).message }, 'SYNC_NOTIFY refused'))
      // We keep no changelog of our own; the real storage asks once per session too.
      await l.call(T.STORAGE_CHANGELOG_REQ).catch(() => {})
      let reportedVersion = -1
      let tandem = true
      let lastBeatChanges = -1
      let nextDisk = 0
      while (!this.stopped) {
        const stats = this.o.store.stats
        stats.v.last_heart_beat_time = Math.floor(Date.now() / 1000)
        const body = stats.changes !== lastBeatChanges ? stats.encode() : Buffer.alloc(0)
        lastBeatChanges = stats.changes
        this.applyFlags(await l.call(T.STORAGE_BEAT, body), `${addr.host}:${addr.port}`)
        if (tandem && this.o.progress) {
          // A real tracker answers EINVAL (and logs it once): then it is not asked again this session.
          await l.call(T.TANDEM_SYNC_PROGRESS, Buffer.from(JSON.stringify(this.o.progress()))).catch((e) => {
            if ((e as { errno?: number }).errno === undefined) throw e
            tandem = false
          })
        }
        if (Date.now() >= nextDisk) {
          const usage = await this.o.store.usageMb()
          const b = Buffer.alloc(16 * usage.length)
          usage.forEach((u, i) => {
            b.writeBigInt64BE(BigInt(u.totalMb), i * 16)
            b.writeBigInt64BE(BigInt(u.freeMb), i * 16 + 8)
          })
          this.applyFlags(await l.call(T.STORAGE_REPORT_DISK_USAGE, b), `${addr.host}:${addr.port}`)
          nextDisk = Date.now() + cfg.statReportInterval * 1000
        }
        // Between beats, SYNC_REPORT whenever our per-peer synced timestamps moved. Why at most
        // every 200 ms: each report is a tracker round trip and a bulk sync moves the timestamp
        // thousands of times a second; 200 ms keeps the tracker's routing close behind (a storage
        // asked for a file it lacks proxies to the source meanwhile) at <= 5 requests/s.
        const beatDue = Date.now() + cfg.heartBeatInterval * 1000
        while (!this.stopped && Date.now() < beatDue) {
          if (reportedVersion !== this.syncedVersion && this.synced.size) {
            reportedVersion = this.syncedVersion
            this.applyFlags(await l.call(T.STORAGE_SYNC_REPORT, this.syncReportBody()), `${addr.host}:${addr.port}`)
            await this.sleep(Math.min(SYNC_REPORT_MIN_MS, Math.max(0, beatDue - Date.now())))
            continue
          }
          await this.sleepOrKick(beatDue - Date.now())
        }
      }
    } finally {
      l.close()
      this.links.delete(l)
    }
  }

  /** The V6.16.1 join body (group 17, 6 longs, version 8, init_flag, status, id 16, tracker ip 46, count 8, lines). */
  joinBody(addr: TrackerAddr): Buffer {
    const cfg = this.o.cfg
    // The storage_id field is always in the struct (since V6.11); it is only filled with use_storage_id.
    const fixedLen = 17 + 6 * 8 + FIELD.VERSION + 2 + FIELD.STORAGE_ID + FIELD.IP_ADDRESS_FULL + 8
    const lines = cfg.trackers.map((t) => `${t.host}:${t.port}\n`).join('')
    const b = Buffer.alloc(fixedLen + Buffer.byteLength(lines))
    let p = 0
    putFixed(b, p, 17, cfg.groupName)
    p += 17
    for (const v of [cfg.port, cfg.storePaths.length, cfg.subdirCount, cfg.uploadPriority, this.joinTime, this.o.upTime]) {
      b.writeBigInt64BE(BigInt(v), p)
      p += 8
    }
    putFixed(b, p, FIELD.VERSION, FDFS_VERSION)
    p += FIELD.VERSION
    b[p++] = this.syncOldDone ? 0 : 1
    b[p++] = this.myStatus === STORAGE_STATUS.INIT ? STORAGE_STATUS.INIT : this.myStatus
    if (cfg.useStorageId) putFixed(b, p, FIELD.STORAGE_ID, this.o.storageId ?? '')
    p += FIELD.STORAGE_ID
    putFixed(b, p, FIELD.IP_ADDRESS_FULL, addr.host)
    p += FIELD.IP_ADDRESS_FULL
    b.writeBigInt64BE(BigInt(cfg.trackers.length), p)
    p += 8
    b.write(lines, p, 'latin1')
    return b
  }

  /** Parse the change-flags reply: flags byte, then 67-byte briefs (leader 1, trunk 2, group 4). */
  applyFlags(body: Buffer, from = ''): void {
    if (body.length === 0) return
    const flags = body[0]
    const briefs: StorageBrief[] = []
    for (let p = 1; p + FIELD.STORAGE_BRIEF <= body.length; p += FIELD.STORAGE_BRIEF) {
      briefs.push({ status: body[p], port: body.readInt32BE(p + 1), id: getFixed(body, p + 5, 16), ip: getFixed(body, p + 21, FIELD.IP_ADDRESS_FULL) })
    }
    let i = 0
    if (flags & 1) i++ // tracker leader brief
    if (flags & 2) i++ // trunk server brief
    if (flags & 4) {
      this.peers = briefs.slice(i)
      log.info({ peers: this.peers.map((s) => `${s.id}@${s.ip}:${s.port}/${s.status}`) }, 'group membership changed')
      this.emit('peers', this.peers, from)
    }
  }
}
