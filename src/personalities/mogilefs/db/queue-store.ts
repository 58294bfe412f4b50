/**
 * Work queues (file_to_replicate, file_to_delete2, file_to_queue for fsck) and
 * the fsck log (part of MetadataStore; callers use `store.queues`).
 *
 * Claiming uses a lease instead of a lock held during the work: inside one
 * transaction the due rows (nexttry <= now) are selected FOR UPDATE and their
 * nexttry is pushed to now + lease. Another tracker sharing the database then
 * skips them; if this tracker dies mid-work the lease runs out and the rows
 * become due again, so nothing is lost and nothing is done twice while the
 * lease holds. Finishing deletes the row; failing reschedules it.
 */
import type { Knex } from 'knex'
import type { MetadataStore } from './store.js'
import type { FsckLogRow, QueueRow, QueueTable } from './types.js'
import { NEXTTRY_NEVER, QUEUE_FSCK, unixNow } from './types.js'

export class QueueStore {
  constructor(private readonly s: MetadataStore) {}

  private get k(): Knex {
    return this.s.k
  }

  /** Claim up to `limit` due rows for `leaseSec` seconds. Empty array when nothing is due. */
  async claim(table: QueueTable, limit: number, leaseSec: number): Promise<QueueRow[]> {
    const now = unixNow()
    return this.s.tx(async (x) => {
      const cols = table === 'file_to_replicate' ? ['fid', 'nexttry', 'failcount', 'fromdevid'] : ['fid', 'nexttry', 'failcount']
      const rows: QueueRow[] = await this.s.lock(x(table).where('nexttry', '<=', now).orderBy('nexttry').limit(limit).select(cols))
      if (!rows.length) return []
      await x(table).whereIn('fid', rows.map((r) => r.fid)).andWhere('nexttry', '<=', now).update({ nexttry: now + leaseSec })
      return rows.map((r) => ({ ...r, fid: Number(r.fid), failcount: Number(r.failcount) }))
    })
  }

  /** Claim one specific fid if it is due (fast path after create_close). False when not due or absent. */
  async claimFid(table: QueueTable, fid: number, leaseSec: number): Promise<QueueRow | undefined> {
    const now = unixNow()
    return this.s.tx(async (x) => {
      const row = await this.s.lock(x(table).where({ fid }).andWhere('nexttry', '<=', now)).first()
      if (!row) return undefined
      await x(table).where({ fid }).update({ nexttry: now + leaseSec })
      return { fid: Number(row.fid), nexttry: Number(row.nexttry), failcount: Number(row.failcount), fromdevid: row.fromdevid ?? null }
    })
  }

  async done(table: QueueTable, fid: number): Promise<void> {
    await this.k(table).where({ fid }).delete()
  }

  async reschedule(table: QueueTable, fid: number, nexttry: number, failcount: number): Promise<void> {
    await this.k(table).where({ fid }).update({ nexttry: Math.min(nexttry, NEXTTRY_NEVER), failcount: Math.min(failcount, 255) })
  }

  /** Queue (or bring forward) replication of a fid. */
  async enqueueReplicate(fid: number, nexttry = 0, fromdevid?: number): Promise<void> {
    await this.k('file_to_replicate')
      .insert({ fid, nexttry, fromdevid: fromdevid ?? null, failcount: 0, flags: 0 })
      .onConflict('fid')
      .merge({ nexttry })
  }

  async enqueueDelete(fid: number, nexttry = unixNow()): Promise<void> {
    await this.k('file_to_delete2').insert({ fid, nexttry, failcount: 0 }).onConflict('fid').ignore()
  }

  /** replicate_now: make every deferred (but not parked) replication row due; returns how many. */
  async replicateNow(): Promise<number> {
    const now = unixNow()
    const n = await this.k('file_to_replicate').where('nexttry', '>', now).andWhere('nexttry', '<', NEXTTRY_NEVER).update({ nexttry: 0 })
    return Number(n)
  }

  async depth(table: QueueTable): Promise<number> {
    const r = await this.k(table).count({ n: '*' }).first()
    return Number(r?.n ?? 0)
  }

  /** Legacy delete queues left by old trackers: move them into file_to_delete2. */
  async migrateLegacyDeletes(limit = 1000): Promise<number> {
    const now = unixNow()
    const a: Array<{ fid: number }> = await this.k('file_to_delete').select('fid').limit(limit)
    const b: Array<{ fid: number }> = await this.k('file_to_delete_later').where('delafter', '<=', now).select('fid').limit(limit)
    for (const r of [...a, ...b]) {
      await this.s.tx(async (x) => {
        await x('file_to_delete2').insert({ fid: r.fid, nexttry: now, failcount: 0 }).onConflict('fid').ignore()
        await x('file_to_delete').where({ fid: r.fid }).delete()
        await x('file_to_delete_later').where({ fid: r.fid }).delete()
      })
    }
    return a.length + b.length
  }

  // ---- fsck queue (file_to_queue type 1) ---------------------------------------

  /** Queue file fids in (from, to] for fsck; returns the highest fid queued (from when none). */
  async enqueueFsckRange(from: number, limit: number): Promise<number> {
    const rows: Array<{ fid: number }> = await this.k('file').where('fid', '>', from).orderBy('fid').limit(limit).select('fid')
    if (!rows.length) return from
    const now = unixNow()
    await this.k('file_to_queue')
      .insert(rows.map((r) => ({ fid: r.fid, type: QUEUE_FSCK, nexttry: now, failcount: 0, flags: 0 })))
      .onConflict(['fid', 'type'])
      .ignore()
    return Number(rows[rows.length - 1].fid)
  }

  async claimTyped(type: number, limit: number, leaseSec: number): Promise<number[]> {
    const now = unixNow()
    return this.s.tx(async (x) => {
      const rows: Array<{ fid: number }> = await this.s.lock(x('file_to_queue').where({ type }).andWhere('nexttry', '<=', now).orderBy('nexttry').limit(limit).select('fid'))
      if (!rows.length) return []
      const fids = rows.map((r) => Number(r.fid))
      await x('file_to_queue').where({ type }).whereIn('fid', fids).update({ nexttry: now + leaseSec })
      return fids
    })
  }

  async doneTyped(type: number, fid: number): Promise<void> {
    await this.k('file_to_queue').where({ type, fid }).delete()
  }

  async typedDepth(type: number): Promise<number> {
    const r = await this.k('file_to_queue').where({ type }).count({ n: '*' }).first()
    return Number(r?.n ?? 0)
  }

  async clearTyped(type: number): Promise<void> {
    await this.k('file_to_queue').where({ type }).delete()
  }

  // ---- fsck log ----------------------------------------------------------------

  async fsckLog(evcode: string, fid: number | null, devid: number | null = null): Promise<void> {
    await this.k('fsck_log').insert({ utime: unixNow(), fid, evcode, devid })
  }

  async fsckLogAfter(afterLogid: number, limit = 100): Promise<FsckLogRow[]> {
    return this.k('fsck_log').where('logid', '>', afterLogid).orderBy('logid').limit(limit)
  }

  async fsckLogMax(): Promise<number> {
    const r = await this.k('fsck_log').max({ m: 'logid' }).first()
    return Number(r?.m ?? 0)
  }

  async fsckEvcounts(): Promise<Record<string, number>> {
    const rows: Array<{ evcode: string; n: number }> = await this.k('fsck_log').select('evcode').count({ n: '*' }).groupBy('evcode')
    const out: Record<string, number> = {}
    for (const r of rows) out[r.evcode] = Number(r.n)
    return out
  }

  async fsckClearLog(): Promise<void> {
    await this.k('fsck_log').delete()
  }
}
