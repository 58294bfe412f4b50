/**
 * Binlog push sync to one peer storage of the same group.
 *
 * Reads this storage's binlog from the peer's durable cursor (mark file
 * `<peer>.mark`) and replays each record with the storage-to-storage commands
 * over persistent connections (sync-lane.ts): small records on the first, a
 * backlog of large files spread over up to `sync_max_threads`. Requests are
 * pipelined only to a peer that answered TANDEM_PIPELINE_PROBE (one of ours);
 * a real FastDFS storage gets one request at a time per connection. Batches of
 * records are read from the binlog one after another, and the acknowledged
 * position moves to the end of a batch once all its records settled, so the
 * lanes never reorder records across batches. Replay is state-based like
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
import { comparePos, type BinlogCursor, type BinlogPosition } from '../../../engine/binlog/binlog.js'
import type { PeerAddress, SenderHooks, SenderStatus, SyncSource } from './sender-types.js'
import { AckWaiters } from './ack-waiters.js'
import { logger } from '../../../log.js'
import { COMMON_CMD, ERRNO, STORAGE_CMD } from '../protocol/constants.js'
import { encodeHeader, readLong } from '../protocol/header.js'
import type net from 'node:net'
import { connectPeer } from './peer-connect.js'
import { isSourceOp, parseRecord, type BinlogRecord } from './binlog-record.js'
import { SKIPPED, SyncLane } from './sync-lane.js'
import { syncDelete, syncFileHead, syncFileHeadLength, syncRangeHead, syncTruncate, syncTwoNames, writeSyncFileHead } from './sync-codec.js'

const log = logger('fastdfs.sync')


/** Why these numbers: reconnect fast for sub-second lag after a peer restart, cap so a dead peer costs nothing. */
const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 10_000
const PARK_MIN_MS = 1_000
const PARK_MAX_MS = 5 * 60_000
/** Records in flight on one connection. */
const WINDOW = 32
/**
 * Large files (those not read whole at once) pending on one lane. Why 4: enough to keep the lane
 * busy between replies, few enough that lanes stay within a few files of each other in binlog
 * order, so the timestamp the peer reports as synced does not run ahead of what it holds by more
 * than a moment.
 */
const LARGE_WINDOW = 4
/**
 * Minimum spacing of small batches (see pump). Why 20 ms: the lag budget is
 * p50 < 50 ms / p99 < 200 ms; at thousands of uploads a second 20 ms gathers
 * ~50-100 records per batch, and each burst the peer answers interrupts its
 * clients' requests once instead of four times (A/B, 4 KiB uploads from 8
 * clients, one run each: +2% and +8% uploads/s and p50 latency 0.57-0.63 ms
 * against 0.72-0.73 with 5 ms; 50 ms gained more but let a backlog build
 * past the 128-record read, last copies ~1 s after a burst). A lone record on
 * an idle sender still goes at once.
 */
const PACE_MS = 20
/** Mark file saved at most this often while busy (and on idle/stop). */
const SAVE_EVERY_MS = 500

export class PeerSender {
  private stopped = false
  /** Open connections to the peer; lanes[0] exists while connected and carries everything but large files. */
  private lanes: SyncLane[] = []
  /** How many lanes a backlog may use (sync_max_threads). */
  private readonly laneCount: number
  /** An extra lane could not be opened: no more tries until the next reconnect. */
  private laneFailed = false
  /**
   * Whether the peer takes pipelined requests (it answered TANDEM_PIPELINE_PROBE: one of ours).
   * A real storage does not (see the probe's doc): then each lane carries one request at a time,
   * as the C sender's threads do. Probed at every (re)connect.
   */
  private pipelined = false
  private lanesOpened = 0
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
  ) {
    this.laneCount = Math.max(1, src.syncLanes ?? 1)
  }

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
    for (const l of this.lanes) l.sock?.destroy()
    await this.loop
  }

  status(): SenderStatus {
    const pos = this.acked ?? { index: 0, offset: 0 }
    return {
      peer: this.peer.id,
      connected: !!this.lanes[0]?.connected,
      position: pos,
      behindBytes: this.src.binlog.bytesAfter(pos),
      behindRecords: this.behindRecords(),
      lastSyncedTimestamp: this.lastTs,
      parked: this.parked.length,
      sentRecords: this.sent,
      connections: this.lanes.filter((l) => l.connected).length,
      connectionsOpened: this.lanesOpened,
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
        await this.closeLanes()
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
    this.pipelined = await this.probePipelining()
    const lane = new SyncLane(this.src, this.peer, 0)
    this.lanes = [lane]
    this.laneFailed = false
    await lane.open()
    this.lanesOpened++
    log.info(
      { peer: this.peer.id, lanes: this.laneCount, pipelined: this.pipelined, syncOld: this.syncOld && !this.syncOldDone ? this.syncOld.until : undefined },
      'sync connection up',
    )
    this.hooks.onConnected?.()
  }

  /**
   * Ask the peer, on a connection of its own, whether it takes pipelined requests. A real storage
   * answers EINVAL and closes that connection (so the question is not asked on a lane); any
   * failure counts as "no": one request at a time is what every FastDFS storage handles.
   */
  private async probePipelining(): Promise<boolean> {
    let sock: net.Socket | undefined
    try {
      // Why the same 5 s as a lane's connect: the peer is on the same LAN; slower means it is down.
      const c = await connectPeer({ host: this.peer.host, port: this.peer.port, localAddress: this.src.localAddress, myId: this.src.myId, timeoutMs: 5_000 })
      sock = c.sock
      sock.write(encodeHeader(0, STORAGE_CMD.TANDEM_PIPELINE_PROBE))
      const h = await Promise.race([
        c.reader.read(10),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('probe timeout')), 5_000).unref()),
      ])
      return h[9] === 0 && readLong(h, 0) === 0
    } catch {
      return false
    } finally {
      sock?.destroy()
    }
  }

  private wanted(r: BinlogRecord): boolean {
    if (isSourceOp(r.op)) return true
    // Replica append/modify/truncate records are never forwarded: the forwarded create/update
    // already carries the file as it is now (storage_check_need_sync in the C storage).
    if (r.op === 'a' || r.op === 'm' || r.op === 't') return false
    return !!this.syncOld && !this.syncOldDone && r.timestamp <= this.syncOld.until
  }

  /** Send records until a lane fails or we are stopped. */
  private async pump(): Promise<void> {
    let readPos: BinlogPosition = { ...this.acked }
    let idleSince = Date.now()
    const main = this.lanes[0]
    try {
      let lastBatch = { at: 0, size: 0 }
      while (!this.stopped) {
        this.throwIfBroken()
        await this.retryParked()
        // Pacing under a steady upload stream: after a small batch, let records gather for the rest
        // of PACE_MS before the next one. Bigger batches mean fewer syscalls and wakeups on both
        // storages per record (they share the CPUs with the uploads); a backlog (full batches) is
        // never slowed down, and an idle sender still sends a lone record at once.
        const wait = lastBatch.size < WINDOW ? lastBatch.at + PACE_MS - Date.now() : 0
        if (wait > 0) await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped$])
        const { records, next } = await this.src.binlog.read(readPos, WINDOW * 4)
        if (!records.length) {
          if (this.busy && !this.parked.length) {
            // Caught up: everything up to the end of the binlog is on the peer.
            this.busy = false
            // The extra lanes are for backlogs; an idle sender keeps only its first connection.
            await this.closeExtraLanes()
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
            const st = await main.request(async () => ({ head: encodeHeader(0, COMMON_CMD.ACTIVE_TEST) }))
            if (st !== 0) throw main.broken ?? new Error(`ACTIVE_TEST status ${st}`)
            idleSince = Date.now()
          }
          await Promise.race([this.src.binlog.waitForAppend(readPos, Math.min(this.src.heartbeatMs, this.nextParkDue())), this.stopped$])
          continue
        }
        idleSince = Date.now()
        this.busy = true
        // read() returns records of one file; they start at readPos unless it moved to the next file.
        let off = next.index === readPos.index ? readPos.offset : 0
        let settled: Array<Promise<void>> = []
        /**
         * The lane each file of this batch went to: every later record of the same file takes the
         * same lane, so the peer sees one file's records in binlog order. Batches never overlap
         * (the next starts once this one settled), so the map lives for one batch.
         */
        const laneOf = new Map<string, SyncLane>()
        for (const line of records) {
          off += Buffer.byteLength(line) + 1
          const end = { index: next.index, offset: off }
          const rec = parseRecord(line)
          if (!rec) {
            log.warn({ peer: this.peer.id, end }, 'skipping malformed binlog record')
            continue
          }
          if (!this.wanted(rec)) continue
          const op = rec.op.toUpperCase()
          if (op === 'L' || op === 'R') {
            // Two names, possibly on two lanes: let everything before it land first, then send it
            // on the first lane (links and renames are rare; order matters more than speed here).
            this.flushAll()
            await Promise.all(settled)
            settled = []
            laneOf.clear()
          }
          // A small create is read now (one buffer with its head); anything else is built when its turn comes.
          let small: Buffer | undefined
          let large = false
          if (op === 'C' && this.src.readNow) {
            let got: { framed: Buffer; size: number } | undefined | null
            try {
              got = this.src.readNow(rec.filename, syncFileHeadLength(rec.filename))
            } catch {
              got = null // the queued path reports it (and parks the record)
            }
            if (got === undefined) {
              this.noteSynced(rec) // gone since: nothing to send
              continue
            }
            if (got) {
              writeSyncFileHead(got.framed, STORAGE_CMD.SYNC_CREATE_FILE, this.src.group, rec.filename, got.size, rec.timestamp)
              small = got.framed
            } else large = true
          } else if (op === 'U') large = true
          let lane = laneOf.get(rec.filename)
          if (!lane) {
            lane = large ? await this.pickLane() : main
            laneOf.set(rec.filename, lane)
          }
          // A large record waits for a small window so the lanes stay close in binlog order (what
          // the peer reports to the tracker as synced must not run far ahead of what it holds).
          // A peer that cannot take pipelined requests gets one record at a time per lane.
          const limit = !this.pipelined ? 1 : large ? LARGE_WINDOW : WINDOW
          if (lane.records >= limit) lane.flushQueued()
          while (lane.records >= limit && !lane.broken) await lane.settled()
          this.throwIfBroken()
          if (this.pipelined) lane.corkOnce()
          lane.beginRecord()
          const sent = this.send(rec, end, lane, small)
          const done = lane.recordDone.bind(lane)
          sent.then(done, done)
          settled.push(sent)
        }
        this.flushAll()
        lastBatch = { at: Date.now(), size: settled.length }
        await Promise.all(settled)
        this.throwIfBroken()
        readPos = next
        this.acked = next
        this.ackedRecords += records.length
        this.ackWaiters.notify()
        await this.saveCursor(false)
      }
    } finally {
      await this.closeLanes()
    }
  }

  private flushAll(): void {
    for (const l of this.lanes) if (l.connected) l.flushQueued()
  }

  private throwIfBroken(): void {
    for (const l of this.lanes) if (l.broken) throw l.broken
  }

  /**
   * The lane for a large record: the open lane with the fewest requests pending, opening another
   * one (up to `lanes`) when every open lane is busy. A lane that cannot be opened is not retried
   * before the next reconnect; its records go to the open ones.
   */
  private async pickLane(): Promise<SyncLane> {
    let best = this.lanes[0]
    for (const l of this.lanes) if (l.connected && l.records < best.records) best = l
    if (best.records === 0 || this.lanes.length >= this.laneCount || this.laneFailed) return best
    const lane = new SyncLane(this.src, this.peer, this.lanes.length)
    this.lanes.push(lane)
    try {
      await lane.open()
      this.lanesOpened++
      return lane
    } catch (e) {
      log.warn({ peer: this.peer.id, lane: lane.index, err: (e as Error).message }, 'cannot open another sync connection; going on with fewer')
      this.laneFailed = true
      this.lanes.pop()
      await lane.close()
      return best
    }
  }

  private async closeExtraLanes(): Promise<void> {
    const extra = this.lanes.splice(1)
    await Promise.all(extra.map((l) => l.close()))
    this.laneFailed = false
  }

  private async closeLanes(): Promise<void> {
    const all = this.lanes.splice(0)
    await Promise.all(all.map((l) => l.close()))
    this.laneFailed = false
  }
  private nextParkDue(): number {
    if (!this.parked.length) return this.src.heartbeatMs
    return Math.max(5, Math.min(...this.parked.map((p) => p.nextTry)) - Date.now())
  }

  /**
   * Send one record; resolves once the peer answered and the outcome is
   * recorded (ok, fallback done, or parked). Rejects only on connection loss.
   */
  private async send(rec: BinlogRecord, end: BinlogPosition, lane: SyncLane, small?: Buffer): Promise<void> {
    const status = await this.transmit(rec, false, lane, small)
    if (status < 0) throw lane.broken ?? new Error('connection lost')
    if (this.accepted(rec, status)) {
      this.noteSynced(rec)
      return
    }
    if (status === ERRNO.ENOENT && /[AMTRL]/i.test(rec.op)) {
      // The peer lacks the base file: ship the whole current file instead.
      const st2 = await this.transmit(rec, true, lane)
      if (st2 < 0) throw lane.broken ?? new Error('connection lost')
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
      const main = this.lanes[0]
      const st = await this.transmit(p.rec, p.tries > 1 && /[AMT]/i.test(p.rec.op), main)
      if (st < 0) throw main.broken ?? new Error('connection lost')
      if (this.accepted(p.rec, st)) {
        this.parked.splice(this.parked.indexOf(p), 1)
        this.noteSynced(p.rec)
      } else this.park(p.rec, p.at, st)
    }
  }

  /**
   * Queue the request for `rec` on `lane`; `whole` forces a full-file SYNC_UPDATE. `small`: the
   * request already read (a small create, head and file in one buffer), written at once when
   * nothing is queued before it.
   */
  private transmit(rec: BinlogRecord, whole: boolean, lane: SyncLane, small?: Buffer): Promise<number> {
    if (small) return lane.writeNow(small) ?? lane.request(async () => ({ head: small }))
    const g = this.src.group
    const op = rec.op.toUpperCase()
    return lane.request(async () => {
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



export { STORAGE_CMD }
export type { PeerAddress, SenderHooks, SenderStatus, SyncSource }
