/**
 * Files, tempfiles, file_on rows and checksums (part of MetadataStore; callers
 * use `store.files`). Every multi-row change runs in one transaction so a crash
 * never leaves a key half-written: a file row, its first file_on row, its
 * checksum and its replication queue row appear together or not at all.
 */
import type { Knex } from 'knex'
import type { MetadataStore } from './store.js'
import { isDuplicate } from './store.js'
import type { FileRow, TempfileRow } from './types.js'
import { unixNow } from './types.js'

export class FidInUseError extends Error {
  constructor() {
    super('fid_in_use')
  }
}

export interface CommitFile {
  fid: number
  dmid: number
  dkey: string
  length: number
  classid: number
  devid: number
  checksum?: { hashtype: number; digest: Buffer }
  /**
   * Seconds of replication lease to take right away (the caller replicates the
   * fid in-process at once, so no separate claim is needed). Absent: due now.
   */
  replicateLease?: number
  /** The class wants a single copy: no replication row at all (saves a commit per upload). */
  noReplication?: boolean
  /** Also consume the tempfile row in the same transaction; TempfileGoneError if it is already gone. */
  consumeTempfile?: boolean
}

/** create_close raced with another close (or the sweeper): the tempfile row was already consumed. */
export class TempfileGoneError extends Error {
  constructor() {
    super('no_temp_file')
  }
}

export class FileStore {
  constructor(private readonly s: MetadataStore) {}

  private get k(): Knex {
    return this.s.k
  }

  /** Insert a tempfile row; returns its fid. An explicit fid already used → FidInUseError. */
  async createTempfile(t: { fid?: number; dmid: number; dkey: string; classid: number; devids: number[] }): Promise<number> {
    const row = { createtime: unixNow(), classid: t.classid, dmid: t.dmid, dkey: t.dkey, devids: t.devids.join(',') }
    if (t.fid) {
      const fid = t.fid
      try {
        return await this.s.tx(async (x) => {
          if (await x('file').where({ fid }).first('fid')) throw new FidInUseError()
          await x('tempfile').insert({ ...row, fid })
          return fid
        })
      } catch (e) {
        if (isDuplicate(e)) throw new FidInUseError()
        throw e
      }
    }
    const ids = await this.k('tempfile').insert(row)
    // mysql2 and better-sqlite3 both report the new auto-increment id first.
    return Number(ids[0])
  }

  /** Atomically remove and return a tempfile row (undefined: already taken = second close). */
  async takeTempfile(fid: number): Promise<TempfileRow | undefined> {
    return this.s.tx(async (x) => {
      const row = await this.s.lock(x('tempfile').where({ fid })).first()
      if (!row) return undefined
      const n = await x('tempfile').where({ fid }).delete()
      return n ? (row as TempfileRow) : undefined
    })
  }

  /** Tempfile rows created before `before` (abandoned uploads), oldest first. */
  async oldTempfiles(before: number, limit = 1000): Promise<TempfileRow[]> {
    return this.k('tempfile').where('createtime', '<', before).orderBy('fid').limit(limit)
  }

  async tempfile(fid: number): Promise<TempfileRow | undefined> {
    return this.k('tempfile').where({ fid }).first()
  }

  async byKey(dmid: number, dkey: string): Promise<FileRow | undefined> {
    return this.k('file').where({ dmid, dkey }).first()
  }

  async byFid(fid: number): Promise<FileRow | undefined> {
    return this.k('file').where({ fid }).first()
  }

  /**
   * The end of create_close: map key → fid. If the key pointed at another fid,
   * that fid is unmapped and queued for deletion (returned as `oldFid`). Adds
   * the first file_on row, the checksum and a due replication row.
   */
  async commit(c: CommitFile): Promise<{ oldFid?: number }> {
    return this.s.tx(async (x) => {
      const now = unixNow()
      if (c.consumeTempfile && !(await x('tempfile').where({ fid: c.fid }).delete())) throw new TempfileGoneError()
      const old = await this.s.lock(x('file').where({ dmid: c.dmid, dkey: c.dkey })).first('fid')
      let oldFid: number | undefined
      if (old && Number(old.fid) !== c.fid) {
        oldFid = Number(old.fid)
        await x('file').where({ fid: oldFid }).delete()
        await x('file_to_delete2').insert({ fid: oldFid, nexttry: now, failcount: 0 }).onConflict('fid').ignore()
      }
      await x('file_on').insert({ fid: c.fid, devid: c.devid }).onConflict(['fid', 'devid']).ignore()
      if (c.checksum) await x('checksum').insert({ fid: c.fid, hashtype: c.checksum.hashtype, checksum: c.checksum.digest }).onConflict('fid').merge()
      await x('file').where({ fid: c.fid }).delete()
      await x('file').insert({ fid: c.fid, dmid: c.dmid, dkey: c.dkey, length: c.length, classid: c.classid, devcount: 1 })
      const nexttry = c.replicateLease ? now + c.replicateLease : 0
      if (!c.noReplication) await x('file_to_replicate').insert({ fid: c.fid, nexttry, failcount: 0, flags: 0 }).onConflict('fid').merge({ nexttry })
      return { oldFid }
    })
  }

  /** Unmap a key and queue its fid for blob deletion. Returns the fid, or undefined if no such key. */
  async deleteKey(dmid: number, dkey: string): Promise<number | undefined> {
    return this.s.tx(async (x) => {
      const row = await this.s.lock(x('file').where({ dmid, dkey })).first('fid')
      if (!row) return undefined
      const fid = Number(row.fid)
      await x('file').where({ fid }).delete()
      await x('file_to_replicate').where({ fid }).delete()
      await x('file_to_delete2').insert({ fid, nexttry: unixNow(), failcount: 0 }).onConflict('fid').ignore()
      return fid
    })
  }

  /**
   * Queue a fid that has no file row (failed upload, abandoned tempfile) for
   * deletion, consuming its tempfile row if still there. Returns false when
   * `requireTempfile` is set and the row was already gone (nothing done).
   */
  async discardFid(fid: number, devids: number[] = [], requireTempfile = false): Promise<boolean> {
    return this.s.tx(async (x) => {
      const had = await x('tempfile').where({ fid }).delete()
      if (requireTempfile && !had) return false
      for (const devid of devids) await x('file_on').insert({ fid, devid }).onConflict(['fid', 'devid']).ignore()
      await x('file_to_delete2').insert({ fid, nexttry: unixNow(), failcount: 0 }).onConflict('fid').ignore()
      return true
    })
  }

  /** Rename within a domain: 'ok' | 'unknown_key' | 'key_exists'. */
  async rename(dmid: number, from: string, to: string): Promise<'ok' | 'unknown_key' | 'key_exists'> {
    try {
      return await this.s.tx(async (x) => {
        const src = await this.s.lock(x('file').where({ dmid, dkey: from })).first('fid')
        if (!src) return 'unknown_key'
        const dst = await x('file').where({ dmid, dkey: to }).first('fid')
        if (dst && Number(dst.fid) !== Number(src.fid)) return 'key_exists'
        await x('file').where({ fid: src.fid }).update({ dkey: to })
        return 'ok'
      })
    } catch (e) {
      if (isDuplicate(e)) return 'key_exists'
      throw e
    }
  }

  /** Change a file's class and re-queue it for replication (the policy may now want more copies). */
  async setClass(fid: number, classid: number): Promise<void> {
    await this.s.tx(async (x) => {
      await x('file').where({ fid }).update({ classid })
      await x('file_to_replicate').insert({ fid, nexttry: 0, failcount: 0, flags: 0 }).onConflict('fid').merge({ nexttry: 0 })
    })
  }

  /** Keys of a domain in key order, `prefix` matched with LIKE (metacharacters escaped). */
  async listKeys(dmid: number, prefix: string, after: string | undefined, limit: number, caseSensitive: boolean): Promise<string[]> {
    const esc = prefix.replace(/[\\%_]/g, (m) => '\\' + m) + '%'
    let q = this.k('file').where({ dmid })
    if (this.s.mysql) q = q.whereRaw(caseSensitive ? "dkey LIKE BINARY ? ESCAPE '\\\\'" : "dkey LIKE ? ESCAPE '\\\\'", [esc])
    else if (caseSensitive) q = q.whereRaw('substr(dkey, 1, ?) = ?', [prefix.length, prefix])
    else q = q.whereRaw("dkey LIKE ? ESCAPE '\\'", [esc])
    if (after !== undefined && after !== '') q = q.where('dkey', '>', after)
    const rows: Array<{ dkey: string }> = await q.orderBy('dkey').limit(limit).select('dkey')
    return rows.map((r) => r.dkey)
  }

  /** Files with fid > from, ascending, at most `count`. */
  async listFids(from: number, count: number): Promise<FileRow[]> {
    return this.k('file').where('fid', '>', from).orderBy('fid').limit(count)
  }

  /** Highest fid in use (0 when empty): the upper bound of an fsck pass. */
  async maxFid(): Promise<number> {
    const r = await this.k('file').max({ m: 'fid' }).first()
    return Number(r?.m ?? 0)
  }

  async devids(fid: number): Promise<number[]> {
    const rows: Array<{ devid: number }> = await this.k('file_on').where({ fid }).select('devid').orderBy('devid')
    return rows.map((r) => Number(r.devid))
  }

  async addFileOn(fid: number, devid: number): Promise<void> {
    await this.k('file_on').insert({ fid, devid }).onConflict(['fid', 'devid']).ignore()
  }

  async removeFileOn(fid: number, devid: number): Promise<void> {
    await this.k('file_on').where({ fid, devid }).delete()
  }

  /** Fids with a copy on `devid`, ascending from `afterFid` (for the reaper and drain). */
  async fidsOnDevice(devid: number, limit: number, afterFid = 0): Promise<number[]> {
    const rows: Array<{ fid: number }> = await this.k('file_on').where({ devid }).andWhere('fid', '>', afterFid).orderBy('fid').limit(limit).select('fid')
    return rows.map((r) => Number(r.fid))
  }

  /** Recount file_on rows into file.devcount; returns the new count. */
  async updateDevcount(fid: number): Promise<number> {
    const r = await this.k('file_on').where({ fid }).count({ n: '*' }).first()
    const n = Number(r?.n ?? 0)
    await this.k('file').where({ fid }).update({ devcount: Math.min(n, 255) })
    return n
  }

  async checksum(fid: number): Promise<{ hashtype: number; digest: Buffer } | undefined> {
    const r = await this.k('checksum').where({ fid }).first()
    return r ? { hashtype: Number(r.hashtype), digest: Buffer.from(r.checksum) } : undefined
  }

  async setChecksum(fid: number, hashtype: number, digest: Buffer): Promise<void> {
    await this.k('checksum').insert({ fid, hashtype, checksum: digest }).onConflict('fid').merge()
  }

  /**
   * Record a finished replica in ONE transaction (one commit = one fsync on the
   * hot replication path): add file_on, recount devcount and, when `done`, drop
   * the replication row. If the key was deleted meanwhile, the fid (with the new
   * copy) is queued for deletion instead. Returns the new devcount, or 'gone'.
   */
  async recordCopy(fid: number, devid: number, done: boolean): Promise<number | 'gone'> {
    return this.s.tx(async (x) => {
      await x('file_on').insert({ fid, devid }).onConflict(['fid', 'devid']).ignore()
      const f = await this.s.lock(x('file').where({ fid })).first('fid')
      if (!f) {
        await x('file_to_delete2').insert({ fid, nexttry: unixNow(), failcount: 0 }).onConflict('fid').ignore()
        await x('file_to_replicate').where({ fid }).delete()
        return 'gone'
      }
      const r = await x('file_on').where({ fid }).count({ n: '*' }).first()
      const n = Number(r?.n ?? 0)
      await x('file').where({ fid }).update({ devcount: Math.min(n, 255) })
      if (done) await x('file_to_replicate').where({ fid }).delete()
      return n
    })
  }

  /** Forget everything about a fid once its blobs are gone (delete worker). */
  async purge(fid: number): Promise<void> {
    await this.s.tx(async (x) => {
      await x('checksum').where({ fid }).delete()
      await x('tempfile').where({ fid }).delete()
      await x('file_on').where({ fid }).delete()
      await x('file_to_delete2').where({ fid }).delete()
      await x('file_to_delete').where({ fid }).delete()
      await x('file_to_delete_later').where({ fid }).delete()
    })
  }
}
