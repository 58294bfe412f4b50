/**
 * Delete job (spec §4): drains file_to_delete2 (and the legacy delete queues),
 * removing every copy of a fid from the storage nodes and then its metadata.
 * Dead or unknown devices never block: their file_on rows are simply dropped.
 * Unreachable or read-only devices are retried later with backoff. Also sweeps
 * tempfile rows older than one hour (abandoned uploads) into the queue.
 * A fid that is still mapped by a file row is never deleted (safety net).
 */
import type { MetadataStore } from '../db/store.js'
import type { QueueRow } from '../db/types.js'
import { unixNow } from '../db/types.js'
import type { ClusterState } from '../tracker/state.js'
import { fidUrl } from '../tracker/paths.js'
import { httpDelete } from '../tracker/storage-http.js'
import { fidLocks } from './fid-locks.js'
import { Sleeper } from './sleeper.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.delete')

/** Why 60 s: a crashed tracker's half-done deletes come back within a minute. */
const LEASE_SEC = 60
/** Abandoned-upload age (reference: 1 h). */
const TEMPFILE_MAX_AGE = 3600
/** Why 60 s: the sweep is a cheap indexed scan; uploads live far longer than that. */
const SWEEP_EVERY_MS = 60_000

/** Retry delay for a device that is temporarily unreachable: 30 s doubling, capped at 1 h. */
function retryDelay(failcount: number): number {
  return Math.min(3600, 30 * 2 ** Math.min(failcount, 7))
}

export class Deleter {
  private readonly sleeper = new Sleeper()
  private stopped = false
  private loopP?: Promise<void>
  private lastSweep = 0
  deleted = 0

  constructor(
    private readonly store: MetadataStore,
    private readonly state: ClusterState,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    this.loopP = this.loop()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.sleeper.wake()
    await this.loopP
  }

  wake(): void {
    this.sleeper.wake()
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let rows: QueueRow[] = []
      try {
        if (Date.now() - this.lastSweep >= SWEEP_EVERY_MS) {
          this.lastSweep = Date.now()
          await this.sweepTempfiles()
          await this.store.queues.migrateLegacyDeletes()
        }
        rows = await this.store.queues.claim('file_to_delete2', 100, LEASE_SEC)
        for (const r of rows) {
          if (this.stopped) break
          await fidLocks.run(String(r.fid), () => this.deleteFid(r))
        }
      } catch (e) {
        log.error({ err: e }, 'delete pass failed')
      }
      // Why 1 s idle poll: deletes queued by other trackers; local deletes wake us at once.
      if (!rows.length) await this.sleeper.sleep(1000)
    }
  }

  /** Move abandoned tempfile rows (older than 1 h) into the delete queue. */
  async sweepTempfiles(): Promise<number> {
    const old = await this.store.files.oldTempfiles(unixNow() - TEMPFILE_MAX_AGE)
    let n = 0
    for (const t of old) {
      const taken = await this.store.files.takeTempfile(Number(t.fid))
      if (!taken) continue
      const devids = String(taken.devids ?? '').split(',').filter(Boolean).map(Number)
      await this.store.files.discardFid(Number(t.fid), devids)
      n++
    }
    if (n) log.info({ count: n }, 'queued abandoned uploads for deletion')
    return n
  }

  async deleteFid(row: QueueRow): Promise<void> {
    const fid = row.fid
    const files = this.store.files
    if (await files.byFid(fid)) {
      log.warn({ fid }, 'fid in delete queue is still mapped to a key; not deleting')
      return this.store.queues.done('file_to_delete2', fid)
    }
    let pending = 0
    for (const devid of await files.devids(fid)) {
      const d = this.state.devices.get(devid)
      const h = d && this.state.hosts.get(d.hostid)
      if (!d || !h || d.status === 'dead' || h.status === 'dead') {
        await files.removeFileOn(fid, devid)
        continue
      }
      const observed = this.state.devObserved.get(devid)
      if (d.status === 'readonly' || d.status === 'down' || h.status === 'down' || observed === 'unreachable') {
        pending++
        continue
      }
      try {
        if (await httpDelete(fidUrl(h, devid, fid), this.timeoutMs)) await files.removeFileOn(fid, devid)
        else pending++
      } catch (e) {
        log.debug({ fid, devid, err: (e as Error).message }, 'DELETE failed')
        pending++
      }
    }
    if (pending) return this.store.queues.reschedule('file_to_delete2', fid, unixNow() + retryDelay(row.failcount), row.failcount + 1)
    await files.purge(fid)
    this.deleted++
  }
}
