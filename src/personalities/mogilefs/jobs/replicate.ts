/**
 * Replicate job (spec §4): drains file_to_replicate. create_close signals the
 * fid in-process (`wake(fid)`) so the second copy starts within milliseconds
 * instead of after the reference's 1-2 s of polling; the DB queue is still
 * polled every second for retries, other trackers' work and restarts.
 * Copies are pulled by the destination when it is our mogstored, else stream
 * GET→PUT through the tracker (storage-http.ts `copy`); either way they carry
 * the checksum, and never remove an existing copy.
 */
import type { MetadataStore } from '../db/store.js'
import type { DeviceRow, FileRow, QueueRow } from '../db/types.js'
import { HASHNAMES, NEXTTRY_NEVER, unixNow } from '../db/types.js'
import type { ClusterState } from '../tracker/state.js'
import { fidUrl } from '../tracker/paths.js'
import { copy } from '../tracker/storage-http.js'
import { multipleHosts, policyMin } from './policy.js'
import { fidLocks } from './fid-locks.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.replicate')

/** Reference backoff after failure n (s): 15 s, 1 m, 5 m, 30 m, 1 h, 2 h, 4 h, 8 h, then 24 h; ±20 % jitter. */
const BACKOFF = [15, 60, 300, 1800, 3600, 7200, 14400, 28800, 86400]
/** Why 120 s: longer than any copy of a reasonably sized file; a crashed tracker's rows come back after it. */
const LEASE_SEC = 120
/** Lease create_close takes on the replication row it hands to this tracker's replicator. */
export const REPLICATE_LEASE_SEC = LEASE_SEC

/** What create_close already knows about a fresh fid, so the copy starts without DB reads. */
export interface ReplicaHint {
  file: FileRow
  devids: number[]
  checksum?: { hashtype: number; digest: Buffer }
}

interface Work {
  row: QueueRow
  hint?: ReplicaHint
}
/** Why 1 s: retries and work queued by other trackers are picked up about as fast as the reference does. */
const POLL_MS = 1000

export function backoffSeconds(failcount: number): number {
  const base = BACKOFF[Math.min(failcount, BACKOFF.length - 1)]
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

export class Replicator {
  private hot: Array<{ fid: number; hint?: ReplicaHint }> = []
  private waiters = new Set<() => void>()
  /** When a loop last polled the DB queue (all loops share one poll per POLL_MS). */
  private lastPoll = 0
  private stopped = false
  private active = 0
  private loops: Promise<void>[] = []
  copies = 0
  failures = 0

  constructor(
    private readonly store: MetadataStore,
    private readonly state: ClusterState,
    private readonly concurrency: number,
    private readonly timeoutMs: number,
    private readonly minFreeMb: number,
  ) {}

  start(): void {
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.loop())
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wakeAll()
    await Promise.all(this.loops)
    // Fids create_close leased to us but not started: hand them back so the next
    // tracker (or our restart) does not wait for the lease to run out.
    for (const h of this.hot.splice(0)) {
      if (h.hint) await this.store.queues.reschedule('file_to_replicate', h.fid, 0, 0).catch(() => {})
    }
  }

  /** Replicate `fid` now (0 = just look at the queue). Called on create_close, updateclass, reaper. */
  wake(fid: number, hint?: ReplicaHint): void {
    if (!fid) {
      this.lastPoll = 0
      return this.wakeAll()
    }
    this.hot.push({ fid, hint })
    // One idle loop per fid: waking them all made every other loop poll the DB
    // queue (a transaction each) for nothing on every create_close.
    const w = this.waiters.values().next()
    if (!w.done) w.value()
  }

  private wakeAll(): void {
    const ws = [...this.waiters]
    this.waiters.clear()
    for (const w of ws) w()
  }

  get busy(): number {
    return this.active
  }

  private async next(): Promise<Work[]> {
    while (this.hot.length) {
      const h = this.hot.shift()!
      // A hinted fid was leased to us by create_close's own transaction.
      if (h.hint) return [{ row: { fid: h.fid, nexttry: 0, failcount: 0 }, hint: h.hint }]
      const row = await this.store.queues.claimFid('file_to_replicate', h.fid, LEASE_SEC)
      if (row) return [{ row }]
    }
    // Why shared: each loop finishing a copy used to poll the queue at once (a
    // transaction per copy); due rows are retries and other trackers' work, for
    // which one poll per second is what the reference does.
    if (Date.now() - this.lastPoll < POLL_MS) return []
    this.lastPoll = Date.now()
    return (await this.store.queues.claim('file_to_replicate', 20, LEASE_SEC)).map((row) => ({ row }))
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let rows: Work[] = []
      try {
        rows = await this.next()
      } catch (e) {
        log.error({ err: e }, 'claiming replication work failed')
      }
      if (!rows.length) {
        await new Promise<void>((r) => {
          const done = () => {
            clearTimeout(t)
            this.waiters.delete(done)
            r()
          }
          const t = setTimeout(done, POLL_MS)
          this.waiters.add(done)
        })
        continue
      }
      for (const { row, hint } of rows) {
        if (this.stopped) break
        this.active++
        try {
          await fidLocks.run(String(row.fid), () => this.replicate(row, hint))
        } catch (e) {
          log.error({ err: e, fid: row.fid }, 'replication crashed')
        } finally {
          this.active--
        }
      }
    }
  }

  /** Bring one fid up to its policy. Every outcome either deletes or reschedules the queue row. */
  async replicate(row: QueueRow, hint?: ReplicaHint): Promise<void> {
    const fid = row.fid
    const q = this.store.queues
    const t0 = performance.now()
    const [f, stored, devids] = hint
      ? [hint.file, hint.checksum, hint.devids]
      : await Promise.all([this.store.files.byFid(fid), this.store.files.checksum(fid), this.store.files.devids(fid)])
    if (!f) return q.done('file_to_replicate', fid)
    const st = this.state
    const cls = st.classById(Number(f.dmid), Number(f.classid))
    const min = policyMin(cls.replpolicy) ?? cls.mindevcount
    const alg = cls.hashtype ? (cls.hashtype === 1 ? 'md5' : 'sha1') : stored ? (stored.hashtype === 1 ? 'md5' : 'sha1') : undefined
    const onDevs = devids.map((id) => st.devices.get(id)).filter((d): d is DeviceRow => !!d && d.status !== 'dead')
    if (!onDevs.length) {
      log.warn({ fid }, 'no source copy left; parking replication row')
      return q.reschedule('file_to_replicate', fid, NEXTTRY_NEVER, row.failcount + 1)
    }
    const policy = () => multipleHosts({ onDevs, allDevs: [...st.devices.values()], min, canWrite: (d) => st.canWrite(d, this.minFreeMb), mbFree: (d) => st.mbFree(d), isAlive: (d) => st.shouldHold(d) })
    let res = policy()
    if (res.kind !== 'copy') {
      await this.store.files.updateDevcount(fid)
      return q.done('file_to_replicate', fid)
    }
    for (let round = 0; round < 10 && res.kind === 'copy'; round++) {
      const dest = res.ideal[0] ?? res.desperate[0]
      const sources = onDevs.filter((d) => st.canRead(d))
      if (dest === undefined || !sources.length) return this.fail(row, dest === undefined ? 'no destination device' : 'no readable source')
      const src = sources[Math.floor(Math.random() * sources.length)]
      const sh = st.hosts.get(src.hostid)!
      const dd = st.devices.get(dest)!
      const dh = st.hosts.get(dd.hostid)!
      const t1 = performance.now()
      try {
        const r = await copy(fidUrl(sh, src.devid, fid), fidUrl(dh, dest, fid), this.timeoutMs, alg)
        if (r.size !== Number(f.length)) throw new Error(`copied ${r.size} bytes, file length is ${f.length}`)
        if (stored && r.digest && !r.digest.equals(stored.digest)) throw new Error(`${HASHNAMES[stored.hashtype]} mismatch copying from dev${src.devid}`)
        if (!stored && r.digest && cls.hashtype) await this.store.files.setChecksum(fid, cls.hashtype, r.digest)
      } catch (e) {
        return this.fail(row, (e as Error).message)
      }
      const t2 = performance.now()
      onDevs.push(dd)
      res = policy()
      const n = await this.store.files.recordCopy(fid, dest, res.kind !== 'copy')
      this.copies++
      log.debug({ fid, dest, prepMs: +(t1 - t0).toFixed(1), copyMs: +(t2 - t1).toFixed(1), dbMs: +(performance.now() - t2).toFixed(1) }, 'replicated')
      if (n === 'gone') return
    }
    if (res.kind === 'copy') return this.fail(row, 'policy still unhappy after 10 copies')
  }

  private async fail(row: QueueRow, why: string): Promise<void> {
    this.failures++
    const wait = backoffSeconds(row.failcount)
    log.warn({ fid: row.fid, why, failcount: row.failcount + 1, retryIn: wait }, 'replication failed')
    await this.store.files.updateDevcount(row.fid).catch(() => 0)
    await this.store.queues.reschedule('file_to_replicate', row.fid, unixNow() + wait, row.failcount + 1)
  }
}
