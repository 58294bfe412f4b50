/**
 * Binlog push sync to one peer storage of the same group.
 *
 * Reads this storage's binlog from the peer's durable cursor (mark file
 * `<peer>.mark`) and replays each record with the storage-to-storage commands,
 * pipelined on one persistent connection. Replay is state-based like
 * FastDFS's: a create sends the file as it is *now* (skipped if it was deleted
 * since), EEXIST means "already there", and an append/modify/truncate the peer
 * cannot apply (ENOENT) falls back to a whole-file update. Peers therefore
 * converge on the final state.
 *
 * Low lag: the sender sleeps on the binlog's append event, not a poll timer, so
 * a record is on the wire as soon as it is flushed (FastDFS polls every 10 ms
 * after a 1 s buffer flush).
 *
 * A record that keeps failing is parked in a retry list with capped backoff and
 * does not block later records; the saved cursor never passes a parked record,
 * so a restart re-sends from there (duplicates are answered with EEXIST).
 */
import net from 'node:net'
import { comparePos, type BinlogCursor, type BinlogPosition } from '../../../engine/binlog/binlog.js'
import type { ReadHandle } from '../../../engine/blob/blob-store.js'
import type { PeerAddress, SenderHooks, SenderStatus, SyncSource } from './sender-types.js'
import { writeWithBody } from './socket-write.js'
import { AckWaiters } from './ack-waiters.js'
import { logger } from '../../../log.js'
import { COMMON_CMD, ERRNO, STORAGE_CMD } from '../protocol/constants.js'
import { encodeHeader, readLong } from '../protocol/header.js'
import { SocketReader } from '../../../server/socket-reader.js'
import { leanConnect } from '../../../server/lean-socket.js'
import { isSourceOp, parseRecord, type BinlogRecord } from './binlog-record.js'
import { reportServerId, syncDelete, syncFileHead, syncFileHeadLength, syncRangeHead, syncTruncate, syncTwoNames, writeSyncFileHead } from './sync-codec.js'

const log = logger('fastdfs.sync')


/** Why these numbers: reconnect fast for sub-second lag after a peer restart, cap so a dead peer costs nothing. */
const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 10_000
const PARK_MIN_MS = 1_000
const PARK_MAX_MS = 5 * 60_000
/** Records in flight on one connection. */
const WINDOW = 32
/**
 * Minimum spacing of small batches (see pump). Why 5 ms: the lag budget is
 * p50 < 50 ms / p99 < 200 ms, and at thousands of uploads a second 5 ms
 * gathers tens of records per batch.
 */
const PACE_MS = 5
/** Mark file saved at most this often while busy (and on idle/stop). */
const SAVE_EVERY_MS = 500

export class PeerSender {
  private stopped = false
  private sock?: net.Socket
  private reader?: SocketReader
  private connected = false
  private cursor!: BinlogCursor
  private acked!: BinlogPosition
  private lastSaved = 0
  private lastTs = 0
  private sent = 0
  private parked: Array<{ rec: BinlogRecord; at: BinlogPosition; tries: number; nextTry: number }> = []
  private loop?: Promise<void>
  private wake?: () => void
  private stopWake?: () => void
  private readonly stopped$ = new Promise<void>((r) => (this.stopWake = r))
  private syncOldDone = false
  private busy = true
  private nudged = false
  /**
   * Records-behind bookkeeping: `backlog.counted` records lay between the mark
   * we started from and the binlog end at `backlog.appended` (the binlog's
   * appendedRecords at that moment); `ackedRecords` counts every line the
   * acknowledged position moved past since (wanted or not). `counted` is
   * undefined while the start-up count runs.
   */
  private backlog?: { appended: number; counted?: number }
  private ackedRecords = 0

  constructor(
    private readonly src: SyncSource,
    readonly peer: PeerAddress,
    /**
     * Bootstrap mode ("sync old"): also replay replica (lower-case) records with
     * timestamps <= until, until the end of the binlog is reached once. Persisted
     * in the mark file (need_sync_old, until_timestamp, sync_old_done), so a
     * restarted sender resumes it even when constructed without it.
     */
    private syncOld?: { until: number },
    private readonly hooks: SenderHooks = {},
  ) {}

  start(): void {
    this.loop = this.run().catch((e) => log.error({ err: e, peer: this.peer.id }, 'sync sender stopped by error'))
  }

  /**
   * Resolves true once the peer acknowledged everything up to binlog position
   * `pos` (nothing at or before it parked), false after `ms`. Used by the
   * upload-min-copies option.
   */
  waitAcked(pos: BinlogPosition, ms: number): Promise<boolean> {
    return this.ackWaiters.wait(pos, ms)
  }

  private readonly ackWaiters = new AckWaiters((pos) => this.hasAcked(pos))

  private hasAcked(pos: BinlogPosition): boolean {
    if (!this.acked || comparePos(this.acked, pos) < 0) return false
    return !this.parked.some((p) => comparePos(p.at, pos) <= 0)
  }

  /** The peer just became available (tracker status): retry the connection now instead of after the backoff. */
  nudge(): void {
    this.nudged = true
    this.wake?.()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.ackWaiters.cancelAll()
    this.stopWake?.()
    this.wake?.()
    this.sock?.destroy()
    await this.loop
  }

  status(): SenderStatus {
    const pos = this.acked ?? { index: 0, offset: 0 }
    return {
      peer: this.peer.id,
      connected: this.connected,
      position: pos,
      behindBytes: this.src.binlog.bytesAfter(pos),
      behindRecords: this.behindRecords(),
      lastSyncedTimestamp: this.lastTs,
      parked: this.parked.length,
      sentRecords: this.sent,
    }
  }

  /**
   * Binlog records after the acknowledged position. While the start-up count
   * is still running (a fraction of a second unless the backlog is large) this
   * is a lower bound: only the records appended since start, less those acked.
   */
  private behindRecords(): number {
    if (!this.backlog) return 0
    const total = (this.backlog.counted ?? 0) + this.src.binlog.appendedRecords - this.backlog.appended
    return Math.max(0, total - this.ackedRecords)
  }

  /** Count the records from the mark to the current end once; later appends come from appendedRecords. */
  private countBacklog(): void {
    const bl = this.src.binlog
    // end() and appendedRecords are read in the same tick, so they describe the same point.
    const to = bl.end()
    const backlog: { appended: number; counted?: number } = { appended: bl.appendedRecords }
    this.backlog = backlog
    this.ackedRecords = 0
    bl.countRecords({ index: this.cursor.index, offset: this.cursor.offset }, to).then(
      (n) => (backlog.counted = n),
      (e) => log.warn({ peer: this.peer.id, err: (e as Error).message }, 'cannot count the binlog backlog; records behind will read low'),
    )
  }

  private markName(): string {
    return this.peer.id.replace(/[^A-Za-z0-9_.-]/g, '_')
  }

  private async run(): Promise<void> {
    this.cursor = await this.src.binlog.cursor(this.markName())
    this.acked = { index: this.cursor.index, offset: this.cursor.offset }
    this.countBacklog()
    this.lastTs = Number(this.cursor.extra.last_synced_timestamp ?? 0) || 0
    const x = this.cursor.extra
    if (!this.syncOld && x.need_sync_old === '1') this.syncOld = { until: Number(x.until_timestamp ?? 0) }
    this.syncOldDone = !!this.syncOld && x.sync_old_done === '1'
    let backoff = RECONNECT_MIN_MS
    while (!this.stopped) {
      try {
        await this.connect()
        backoff = RECONNECT_MIN_MS
        await this.pump()
      } catch (e) {
        if (this.stopped) break
        log.warn({ peer: this.peer.id, err: (e as Error).message }, 'sync connection failed; will retry')
      } finally {
        this.connected = false
        this.sock?.destroy()
      }
      if (this.stopped) break
      await this.sleep(backoff)
      backoff = this.nudged ? RECONNECT_MIN_MS : Math.min(RECONNECT_MAX_MS, backoff * 2)
      this.nudged = false
    }
    await this.saveCursor(true).catch(() => {})
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(done, ms)
      const self = this
      function done(): void {
        clearTimeout(t)
        self.wake = undefined
        r()
      }
      this.wake = done
    })
  }

  private async connect(): Promise<void> {
    const sock = leanConnect({ host: this.peer.host, port: this.peer.port, noDelay: true, localAddress: this.src.localAddress })
    this.sock = sock
    await new Promise<void>((resolve, reject) => {
      // Why 5 s: a peer on the same LAN answers a SYN in microseconds; longer means it is down.
      const t = setTimeout(() => reject(new Error('connect timeout')), 5_000)
      sock.once('connect', () => {
        clearTimeout(t)
        resolve()
      })
      sock.once('error', (e) => {
        clearTimeout(t)
        reject(e)
      })
    })
    sock.on('error', () => {})
    this.reader = new SocketReader(sock)
    sock.write(reportServerId(this.src.myId))
    const st = await this.readReply()
    if (st !== 0) throw new Error(`peer refused REPORT_SERVER_ID with status ${st}`)
    this.connected = true
    log.info({ peer: this.peer.id, syncOld: this.syncOld && !this.syncOldDone ? this.syncOld.until : undefined }, 'sync connection up')
    this.hooks.onConnected?.()
  }

  /** Read one reply header (+ discard any body: V6.16.1 echoes a body on SYNC_RENAME). */
  private async readReply(): Promise<number> {
    // Synchronous when the reply is already buffered (pipelined replies arrive several per read).
    const h = this.reader!.tryRead(10) ?? (await this.reader!.read(10))
    const len = readLong(h, 0)
    if (len < 0 || len > 1 << 20) throw new Error(`bad reply length ${len}`)
    if (len > 0) await this.reader!.skip(len)
    return h[9]
  }

  private wanted(r: BinlogRecord): boolean {
    if (isSourceOp(r.op)) return true
    // Replica append/modify/truncate records are never forwarded: the forwarded create/update
    // already carries the file as it is now (storage_check_need_sync in the C storage).
    if (r.op === 'a' || r.op === 'm' || r.op === 't') return false
    return !!this.syncOld && !this.syncOldDone && r.timestamp <= this.syncOld.until
  }

  /** Send records until the connection fails or we are stopped. */
  private async pump(): Promise<void> {
    let readPos: BinlogPosition = { ...this.acked }
    let idleSince = Date.now()
    this.inflight = []
    this.broken = undefined
    this.corked = false
    const replies = this.replyLoop()
    try {
      let lastBatch = { at: 0, size: 0 }
      while (!this.stopped) {
        if (this.broken) throw this.broken
        await this.retryParked()
        // Pacing under a steady upload stream: after a small batch, let records gather for the rest
        // of PACE_MS before the next one. Bigger batches mean fewer syscalls and wakeups on both
        // storages per record (they share the CPUs with the uploads); a backlog (full batches) is
        // never slowed down, and an idle sender still sends a lone record at once.
        const wait = lastBatch.size < WINDOW ? lastBatch.at + PACE_MS - Date.now() : 0
        if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped$])
        const { records, next } = await this.src.binlog.read(readPos, WINDOW * 4)
        if (!records.length) {
          if (this.busy && !this.parked.length && !this.inflight.length) {
            // Caught up: everything up to the end of the binlog is on the peer.
            this.busy = false
            const justDone = !!this.syncOld && !this.syncOldDone
            this.syncOldDone = !!this.syncOld
            // Rate-limited like every other save (a crash re-sends at most SAVE_EVERY_MS of records,
            // answered EEXIST); only the end of the initial sync must be on disk at once.
            await this.saveCursor(justDone, justDone)
            if (justDone) log.info({ peer: this.peer.id }, 'initial sync (sync old) done')
            this.hooks.onCaughtUp?.({ syncOldJustDone: justDone })
          }
          await this.saveCursor(false)
          if (Date.now() - idleSince >= this.src.heartbeatMs) {
            const st = await this.request(async () => ({ head: encodeHeader(0, COMMON_CMD.ACTIVE_TEST) }))
            if (st !== 0) throw this.broken ?? new Error(`ACTIVE_TEST status ${st}`)
            idleSince = Date.now()
          }
          await Promise.race([this.src.binlog.waitForAppend(readPos, Math.min(this.src.heartbeatMs, this.nextParkDue())), this.stopped$])
          continue
        }
        idleSince = Date.now()
        this.busy = true
        // read() returns records of one file; they start at readPos unless it moved to the next file.
        let off = next.index === readPos.index ? readPos.offset : 0
        const settled: Array<Promise<void>> = []
        for (const line of records) {
          off += Buffer.byteLength(line) + 1
          const end = { index: next.index, offset: off }
          const rec = parseRecord(line)
          if (!rec) {
            log.warn({ peer: this.peer.id, end }, 'skipping malformed binlog record')
            continue
          }
          if (!this.wanted(rec)) continue
          if (this.inflight.length >= WINDOW) this.flushQueued()
          while (this.inflight.length >= WINDOW && !this.broken) await new Promise<void>((r) => (this.slotWake = r))
          if (this.broken) throw this.broken
          this.corkOnce()
          settled.push(this.send(rec, end))
        }
        this.flushQueued()
        lastBatch = { at: Date.now(), size: settled.length }
        await Promise.all(settled)
        if (this.broken) throw this.broken
        readPos = next
        this.acked = next
        this.ackedRecords += records.length
        this.ackWaiters.notify()
        await this.saveCursor(false)
      }
    } finally {
      this.connected = false
      this.sock?.destroy()
      this.inflightWake?.()
      await replies
    }
  }

  /**
   * Write coalescing: the requests of one batch of binlog records are written
   * while the socket is corked and go out in one writev when the chained
   * writes reach the uncork step (`flushQueued`), instead of a syscall (and a
   * peer wakeup) per record. Large bodies uncork first (they stream with
   * backpressure, and 'drain' never comes while corked).
   */
  private corked = false

  private corkOnce(): void {
    if (this.corked || !this.sock) return
    this.sock.cork()
    this.corked = true
  }

  private uncorkNow(): void {
    if (!this.corked) return
    this.corked = false
    this.sock?.uncork()
  }

  /** Uncork once every write queued so far has been issued. */
  private flushQueued(): void {
    this.chain = this.chain.then(() => this.uncorkNow())
  }

  private inflight: Array<(status: number) => void> = []
  private inflightWake?: () => void
  /** Wakes the pump waiting for a free slot in the window (a reply came, or the connection broke). */
  private slotWake?: () => void
  private broken?: Error
  private chain: Promise<void> = Promise.resolve()
  /** Requests queued on `chain` whose writes have not all been issued yet (transmitNow writes only at 0). */
  private queued = 0

  /** Replies come back in request order; this loop settles them. On failure every pending request gets -1. */
  private async replyLoop(): Promise<void> {
    try {
      for (;;) {
        while (!this.inflight.length) {
          if (this.stopped || !this.connected) return
          await new Promise<void>((r) => (this.inflightWake = r))
          this.inflightWake = undefined
        }
        const st = await this.readReply()
        this.inflight.shift()!(st)
        this.slotWake?.()
      }
    } catch (e) {
      this.broken = e as Error
    } finally {
      this.broken ??= new Error('sync connection closed')
      for (const r of this.inflight.splice(0)) r(-1)
      this.slotWake?.()
    }
  }

  /**
   * Queue one request. Writes are serialised on `chain` so each request's bytes
   * are contiguous on the socket and replies match the inflight order. `build`
   * returns undefined to skip (the source file vanished). Resolves with the
   * reply status, SKIPPED, or -1 when the connection failed.
   */
  private request(build: () => Promise<{ head: Buffer; body?: ReadHandle } | undefined>): Promise<number> {
    let result: Promise<number> = Promise.resolve(-1)
    this.queued++
    const step = this.chain.then(async () => {
      if (this.broken || !this.sock) return
      let req
      try {
        req = await build()
      } catch (e) {
        // A local failure (bad name in the binlog, I/O error) is this record's problem, not the connection's: park it.
        log.warn({ peer: this.peer.id, err: (e as Error).message }, 'cannot build sync request')
        result = Promise.resolve(ERRNO.EIO)
        return
      }
      if (!req) {
        result = Promise.resolve(SKIPPED)
        return
      }
      result = new Promise<number>((resolve) => this.inflight.push(resolve))
      this.inflightWake?.()
      try {
        if (req.body?.buffer) {
          this.sock.write(req.head)
          this.sock.write(req.body.buffer)
        } else if (req.body) {
          this.uncorkNow()
          // Why network_timeout (60 s by default): the same "no progress for this long" rule the
          // storage applies to client transfers; a peer that stops reading releases the send.
          await writeWithBody(this.sock, req.head, req.body, this.src.networkTimeoutMs ?? 60_000)
        } else this.sock.write(req.head)
      } catch (e) {
        req.body?.stream.destroy()
        this.broken ??= e as Error
        this.sock.destroy()
      }
    })
    const left = () => {
      this.queued--
    }
    step.then(left, left)
    this.chain = step.catch(() => {})
    return step.then(
      () => result,
      () => -1,
    )
  }

  private nextParkDue(): number {
    if (!this.parked.length) return this.src.heartbeatMs
    return Math.max(5, Math.min(...this.parked.map((p) => p.nextTry)) - Date.now())
  }

  /**
   * Send one record; resolves once the peer answered and the outcome is
   * recorded (ok, fallback done, or parked). Rejects only on connection loss.
   */
  private async send(rec: BinlogRecord, end: BinlogPosition): Promise<void> {
    const status = await this.transmit(rec, false)
    if (status < 0) throw this.broken ?? new Error('connection lost')
    if (this.accepted(rec, status)) {
      this.noteSynced(rec)
      return
    }
    if (status === ERRNO.ENOENT && /[AMTRL]/i.test(rec.op)) {
      // The peer lacks the base file: ship the whole current file instead.
      const st2 = await this.transmit(rec, true)
      if (st2 < 0) throw this.broken ?? new Error('connection lost')
      if (st2 === 0 || st2 === ERRNO.EEXIST || st2 === SKIPPED) {
        this.noteSynced(rec)
        return
      }
    }
    this.park(rec, end, status)
  }

  private noteSynced(rec: BinlogRecord): void {
    this.sent++
    this.lastTs = Math.max(this.lastTs, rec.timestamp)
  }

  private accepted(rec: BinlogRecord, st: number): boolean {
    if (st === 0 || st === ERRNO.EEXIST || st === SKIPPED) return true
    // Deleting what the peer never had is success.
    return st === ERRNO.ENOENT && rec.op.toUpperCase() === 'D'
  }

  private park(rec: BinlogRecord, at: BinlogPosition, status: number): void {
    const existing = this.parked.find((p) => p.rec === rec)
    const tries = (existing?.tries ?? 0) + 1
    const delay = Math.min(PARK_MAX_MS, PARK_MIN_MS * 2 ** (tries - 1))
    if (existing) {
      existing.tries = tries
      existing.nextTry = Date.now() + delay
    } else {
      this.parked.push({ rec, at, tries, nextTry: Date.now() + delay })
    }
    log.warn({ peer: this.peer.id, record: rec, status, tries, retryInMs: delay }, 'sync record failed; parked for retry')
  }

  private async retryParked(): Promise<void> {
    const now = Date.now()
    for (const p of [...this.parked]) {
      if (p.nextTry > now) continue
      // From the second retry on, a failing append/modify/truncate ships the whole file instead.
      const st = await this.transmit(p.rec, p.tries > 1 && /[AMT]/i.test(p.rec.op))
      if (st < 0) throw this.broken ?? new Error('connection lost')
      if (this.accepted(p.rec, st)) {
        this.parked.splice(this.parked.indexOf(p), 1)
        this.noteSynced(p.rec)
      } else this.park(p.rec, p.at, st)
    }
  }

  /**
   * A create whose file is small, sent synchronously: the file is read straight into the buffer
   * that carries the request head (SyncSource.readNow) and written at once, with no step on
   * `chain`, no ReadHandle and no async open. Why: under thousands of small uploads a second the
   * promise chain, the open and the head's own buffer were most of the sender's CPU per record.
   * Only while nothing is queued on `chain` (else this write would overtake queued ones);
   * undefined when it does not apply, and the caller takes the queued path.
   */
  private transmitNow(rec: BinlogRecord): Promise<number> | undefined {
    if (this.queued !== 0 || this.broken || !this.sock || !this.src.readNow) return undefined
    const headroom = syncFileHeadLength(rec.filename)
    let got: { framed: Buffer; size: number } | undefined | null
    try {
      got = this.src.readNow(rec.filename, headroom)
    } catch {
      return undefined // the queued path reports it (and parks the record)
    }
    if (got === null) return undefined
    if (got === undefined) return Promise.resolve(SKIPPED)
    writeSyncFileHead(got.framed, STORAGE_CMD.SYNC_CREATE_FILE, this.src.group, rec.filename, got.size, rec.timestamp)
    const result = new Promise<number>((resolve) => this.inflight.push(resolve))
    this.inflightWake?.()
    this.sock.write(got.framed)
    return result
  }

  /** Build and queue the request for `rec`; `whole` forces a full-file SYNC_UPDATE. */
  private transmit(rec: BinlogRecord, whole: boolean): Promise<number> {
    const g = this.src.group
    const op = rec.op.toUpperCase()
    if (op === 'C' && !whole) {
      const now = this.transmitNow(rec)
      if (now) return now
    }
    return this.request(async () => {
      if (whole || op === 'C' || op === 'U') {
        const body = await this.src.open(rec.filename)
        if (!body) return undefined
        const cmd = whole || op === 'U' ? STORAGE_CMD.SYNC_UPDATE_FILE : STORAGE_CMD.SYNC_CREATE_FILE
        return { head: syncFileHead(cmd, g, rec.filename, body.size, rec.timestamp), body }
      }
      switch (op) {
        case 'D':
          return { head: syncDelete(g, rec.filename, rec.timestamp) }
        case 'A':
        case 'M': {
          const start = rec.a ?? 0
          const len = rec.b ?? 0
          const body = await this.src.open(rec.filename, { start, end: start + len })
          if (!body) return undefined
          if (body.end - body.start !== len) {
            // The file shrank since: that region is gone; the whole-file fallback will follow ENOENT-like handling.
            body.stream.destroy()
            const all = await this.src.open(rec.filename)
            if (!all) return undefined
            return { head: syncFileHead(STORAGE_CMD.SYNC_UPDATE_FILE, g, rec.filename, all.size, rec.timestamp), body: all }
          }
          const cmd = op === 'A' ? STORAGE_CMD.SYNC_APPEND_FILE : STORAGE_CMD.SYNC_MODIFY_FILE
          return { head: syncRangeHead(cmd, g, rec.filename, start, len, rec.timestamp), body }
        }
        case 'T':
          return { head: syncTruncate(g, rec.filename, rec.a ?? 0, rec.b ?? 0, rec.timestamp) }
        case 'L':
          return { head: syncTwoNames(STORAGE_CMD.SYNC_CREATE_LINK, g, rec.filename, rec.other ?? '', rec.timestamp) }
        case 'R':
          return { head: syncTwoNames(STORAGE_CMD.SYNC_RENAME_FILE, g, rec.filename, rec.other ?? '', rec.timestamp) }
        default:
          return undefined
      }
    })
  }

  private async saveCursor(force: boolean, always = false): Promise<void> {
    const now = Date.now()
    if (!force && now - this.lastSaved < SAVE_EVERY_MS) return
    if (always) this.lastSaved = 0
    // Never move the saved mark past a parked record.
    let pos = this.acked
    for (const p of this.parked) if (p.at.index < pos.index || (p.at.index === pos.index && p.at.offset < pos.offset)) pos = p.at
    if (pos.index === this.cursor.index && pos.offset === this.cursor.offset && !force) return
    if (pos.index === this.cursor.index && pos.offset === this.cursor.offset && now - this.lastSaved < 5_000) return
    const extra: Record<string, string> = { ...this.cursor.extra, last_synced_timestamp: String(this.lastTs) }
    if (this.syncOld) {
      extra.need_sync_old = '1'
      extra.until_timestamp = String(this.syncOld.until)
      extra.sync_old_done = this.syncOldDone ? '1' : '0'
    }
    this.cursor = { ...this.cursor, index: pos.index, offset: pos.offset, extra }
    this.lastSaved = now
    await this.src.binlog.saveCursor(this.markName(), this.cursor)
  }
}

/** Status value meaning "nothing to send: the source file is gone". */
const SKIPPED = 1000


export { STORAGE_CMD }
export type { PeerAddress, SenderHooks, SenderStatus, SyncSource }
