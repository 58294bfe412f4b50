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
import type { MysqlOk, SqliteDb } from './fast-sql.js'

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
    const f = this.s.fast
    const sql = 'INSERT INTO tempfile (createtime, classid, dmid, dkey, devids) VALUES (?, ?, ?, ?, ?)'
    const p = [row.createtime, row.classid, row.dmid, row.dkey, row.devids]
    if (f.mysql) return Number(((await f.my(sql, p)) as MysqlOk).insertId)
    return f.sqlite((db) => Number(f.stmt(db, sql).run(...p).lastInsertRowid))
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
    return (await this.one('SELECT * FROM tempfile WHERE fid = ?', [fid])) as TempfileRow | undefined
  }

  async byKey(dmid: number, dkey: string): Promise<FileRow | undefined> {
    return (await this.one('SELECT * FROM file WHERE dmid = ? AND dkey = ?', [dmid, dkey])) as FileRow | undefined
  }

  async byFid(fid: number): Promise<FileRow | undefined> {
    return (await this.one('SELECT * FROM file WHERE fid = ?', [fid])) as FileRow | undefined
  }

  /**
   * get_paths in one query: the key's file row and the devices holding it
   * (ascending). undefined when the key is unknown; `devids` empty when no copy is recorded.
   */
  async byKeyWithDevids(dmid: number, dkey: string): Promise<{ file: FileRow; devids: number[] } | undefined> {
    const f = this.s.fast
    const sql = 'SELECT file.fid, file.dmid, file.dkey, file.length, file.classid, file.devcount, file_on.devid FROM file LEFT JOIN file_on ON file_on.fid = file.fid WHERE file.dmid = ? AND file.dkey = ? ORDER BY file_on.devid'
    const rows = (f.mysql ? await f.myRead(sql, [dmid, dkey]) : await f.sqlite((db) => f.stmt(db, sql).all(dmid, dkey))) as Array<FileRow & { devid: number | null }>
    if (!rows.length) return undefined
    const { devid: _d, ...file } = rows[0]
    return { file, devids: rows.filter((r) => r.devid !== null).map((r) => Number(r.devid)) }
  }

  /** First row of a SELECT on the raw connection, or undefined. */
  private async one(sql: string, params: unknown[]): Promise<Record<string, unknown> | undefined> {
    const f = this.s.fast
    if (f.mysql) return ((await f.myRead(sql, params)) as Array<Record<string, unknown>>)[0]
    return f.sqlite((db) => f.stmt(db, sql).get(...params))
  }

  /**
   * The end of create_close: map key → fid. If the key pointed at another fid,
   * that fid is unmapped and queued for deletion (returned as `oldFid`). Adds
   * the first file_on row, the checksum and a due replication row.
   */
  async commit(c: CommitFile): Promise<{ oldFid?: number }> {
    const now = unixNow()
    const nexttry = c.replicateLease ? now + c.replicateLease : 0
    const f = this.s.fast
    if (!f.mysql) {
      return f.sqliteTx((db: SqliteDb) => {
        if (c.consumeTempfile && !f.stmt(db, 'DELETE FROM tempfile WHERE fid = ?').run(c.fid).changes) throw new TempfileGoneError()
        const old = f.stmt(db, 'SELECT fid FROM file WHERE dmid = ? AND dkey = ?').get(c.dmid, c.dkey)
        let oldFid: number | undefined
        if (old && Number(old.fid) !== c.fid) {
          oldFid = Number(old.fid)
          f.stmt(db, 'DELETE FROM file WHERE fid = ?').run(oldFid)
          f.stmt(db, 'INSERT INTO file_to_delete2 (fid, nexttry, failcount) VALUES (?, ?, 0) ON CONFLICT (fid) DO NOTHING').run(oldFid, now)
        }
        f.stmt(db, 'INSERT INTO file_on (fid, devid) VALUES (?, ?) ON CONFLICT (fid, devid) DO NOTHING').run(c.fid, c.devid)
        if (c.checksum) f.stmt(db, 'INSERT INTO checksum (fid, hashtype, checksum) VALUES (?, ?, ?) ON CONFLICT (fid) DO UPDATE SET hashtype = excluded.hashtype, checksum = excluded.checksum').run(c.fid, c.checksum.hashtype, c.checksum.digest)
        f.stmt(db, 'DELETE FROM file WHERE fid = ?').run(c.fid)
        f.stmt(db, 'INSERT INTO file (fid, dmid, dkey, length, classid, devcount) VALUES (?, ?, ?, ?, ?, 1)').run(c.fid, c.dmid, c.dkey, c.length, c.classid)
        if (!c.noReplication) f.stmt(db, 'INSERT INTO file_to_replicate (fid, nexttry, failcount, flags) VALUES (?, ?, 0, 0) ON CONFLICT (fid) DO UPDATE SET nexttry = excluded.nexttry').run(c.fid, nexttry)
        return { oldFid }
      })
    }
    // MySQL: ONE multi-statement round trip. The fast path covers a key that is
    // new and a fid without a file row (nearly every upload); when the plain
    // INSERT INTO file hits a unique key (the key maps to another fid, or this
    // fid already has a row) it is rolled back and the full path runs instead.
    return f.myTx(async (conn) => {
      try {
        return await this.commitNewMysql(conn, c, nexttry)
      } catch (e) {
        if (!isDuplicate(e)) throw e
        // mysql2 stopped the batch at the failed INSERT with the transaction still
        // open (holding the tempfile row): undo it before the full path starts its own.
        await f.q(conn, 'ROLLBACK')
      }
      return this.commitFullMysql(conn, c, now, nexttry)
    })
  }

  /**
   * MySQL fast path of commit(): 6-7 statements instead of 10-12 (no lookup of
   * the key's previous fid, no DELETE FROM file, no SELECT @ok). The tempfile
   * row is deleted FIRST: that row lock is what serialises this close against a
   * concurrent close / discardFid / sweeper of the same fid (a plain read of it
   * would not be: under READ COMMITTED it does not wait for their delete). @ok
   * is that DELETE's row count; every later statement is `... FROM DUAL WHERE
   * @ok = 1`, so a gone tempfile changes nothing at all (not even when the fid
   * already has a file row, the second-close case, where an INSERT ... SELECT
   * FROM tempfile would raise no duplicate and a join on `file` would match).
   * The INSERT INTO file is plain: ER_DUP_ENTRY when the key or fid is taken
   * (the caller rolls back and takes the full path). Returns `{}` (no old fid).
   */
  private async commitNewMysql(conn: unknown, c: CommitFile, nexttry: number): Promise<{ oldFid?: number }> {
    const f = this.s.fast
    const sql: string[] = ['START TRANSACTION']
    const p: unknown[] = []
    const delAt = sql.length
    if (c.consumeTempfile) {
      sql.push('DELETE FROM tempfile WHERE fid = ?', 'SET @ok = ROW_COUNT()')
      p.push(c.fid)
    } else sql.push('SET @ok = 1')
    sql.push('INSERT INTO file (fid, dmid, dkey, length, classid, devcount) SELECT ?, ?, ?, ?, ?, 1 FROM DUAL WHERE @ok = 1')
    p.push(c.fid, c.dmid, c.dkey, c.length, c.classid)
    sql.push('INSERT IGNORE INTO file_on (fid, devid) SELECT ?, ? FROM DUAL WHERE @ok = 1')
    p.push(c.fid, c.devid)
    if (c.checksum) {
      sql.push('INSERT INTO checksum (fid, hashtype, checksum) SELECT ?, ?, ? FROM DUAL WHERE @ok = 1 ON DUPLICATE KEY UPDATE hashtype = VALUES(hashtype), checksum = VALUES(checksum)')
      p.push(c.fid, c.checksum.hashtype, c.checksum.digest)
    }
    if (!c.noReplication) {
      sql.push('INSERT INTO file_to_replicate (fid, nexttry, failcount, flags) SELECT ?, ?, 0, 0 FROM DUAL WHERE @ok = 1 ON DUPLICATE KEY UPDATE nexttry = VALUES(nexttry)')
      p.push(c.fid, nexttry)
    }
    sql.push('COMMIT')
    const r = (await f.q(conn, sql.join('; '), p)) as unknown[]
    if (c.consumeTempfile && Number((r[delAt] as MysqlOk).affectedRows) !== 1) throw new TempfileGoneError()
    return { oldFid: undefined }
  }

  /**
   * MySQL full path of commit() (the key may map to another fid, the fid may
   * already have a row). The decisions are made in SQL: @ok says whether the
   * tempfile row was still there (else nothing is changed and
   * TempfileGoneError is thrown), and the key's previous fid (if another) is
   * queued for deletion by INSERT ... SELECT.
   */
  private async commitFullMysql(conn: unknown, c: CommitFile, now: number, nexttry: number): Promise<{ oldFid?: number }> {
    const f = this.s.fast
    const sql: string[] = ['START TRANSACTION']
    const p: unknown[] = []
    if (c.consumeTempfile) {
      sql.push('DELETE FROM tempfile WHERE fid = ?', 'SET @ok = ROW_COUNT()')
      p.push(c.fid)
    } else sql.push('SET @ok = 1')
    const oldAt = sql.length
    sql.push('SELECT fid FROM file WHERE dmid = ? AND dkey = ? AND @ok = 1 FOR UPDATE')
    p.push(c.dmid, c.dkey)
    sql.push('INSERT IGNORE INTO file_to_delete2 (fid, nexttry, failcount) SELECT fid, ?, 0 FROM file WHERE dmid = ? AND dkey = ? AND fid <> ? AND @ok = 1')
    p.push(now, c.dmid, c.dkey, c.fid)
    sql.push('DELETE FROM file WHERE ((dmid = ? AND dkey = ?) OR fid = ?) AND @ok = 1')
    p.push(c.dmid, c.dkey, c.fid)
    sql.push('INSERT IGNORE INTO file_on (fid, devid) SELECT ?, ? FROM DUAL WHERE @ok = 1')
    p.push(c.fid, c.devid)
    if (c.checksum) {
      sql.push('INSERT INTO checksum (fid, hashtype, checksum) SELECT ?, ?, ? FROM DUAL WHERE @ok = 1 ON DUPLICATE KEY UPDATE hashtype = VALUES(hashtype), checksum = VALUES(checksum)')
      p.push(c.fid, c.checksum.hashtype, c.checksum.digest)
    }
    sql.push('INSERT INTO file (fid, dmid, dkey, length, classid, devcount) SELECT ?, ?, ?, ?, ?, 1 FROM DUAL WHERE @ok = 1')
    p.push(c.fid, c.dmid, c.dkey, c.length, c.classid)
    if (!c.noReplication) {
      sql.push('INSERT INTO file_to_replicate (fid, nexttry, failcount, flags) SELECT ?, ?, 0, 0 FROM DUAL WHERE @ok = 1 ON DUPLICATE KEY UPDATE nexttry = VALUES(nexttry)')
      p.push(c.fid, nexttry)
    }
    const okAt = sql.length
    sql.push('SELECT @ok AS ok', 'COMMIT')
    const r = (await f.q(conn, sql.join('; '), p)) as unknown[]
    if (Number((r[okAt] as Array<{ ok: unknown }>)[0]?.ok) !== 1) throw new TempfileGoneError()
    const old = (r[oldAt] as Array<{ fid: number }>)[0]
    return { oldFid: old && Number(old.fid) !== c.fid ? Number(old.fid) : undefined }
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
    const f = this.s.fast
    const sql = 'SELECT devid FROM file_on WHERE fid = ? ORDER BY devid'
    const rows = (f.mysql ? await f.my(sql, [fid]) : await f.sqlite((db) => f.stmt(db, sql).all(fid))) as Array<{ devid: number }>
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
   * copy) is queued for deletion instead. Returns the new devcount (file_on
   * rows, capped at 255 like the column), or 'gone' (nothing but the file_on
   * row and the deletion queue row written; the replication row is dropped).
   */
  async recordCopy(fid: number, devid: number, done: boolean): Promise<number | 'gone'> {
    const now = unixNow()
    const f = this.s.fast
    if (!f.mysql) {
      return f.sqliteTx((db: SqliteDb) => {
        f.stmt(db, 'INSERT INTO file_on (fid, devid) VALUES (?, ?) ON CONFLICT (fid, devid) DO NOTHING').run(fid, devid)
        if (!f.stmt(db, 'SELECT fid FROM file WHERE fid = ?').get(fid)) {
          f.stmt(db, 'INSERT INTO file_to_delete2 (fid, nexttry, failcount) VALUES (?, ?, 0) ON CONFLICT (fid) DO NOTHING').run(fid, now)
          f.stmt(db, 'DELETE FROM file_to_replicate WHERE fid = ?').run(fid)
          return 'gone' as const
        }
        const n = Math.min(255, Number(f.stmt(db, 'SELECT COUNT(*) AS n FROM file_on WHERE fid = ?').get(fid)?.n ?? 0))
        f.stmt(db, 'UPDATE file SET devcount = ? WHERE fid = ?').run(n, fid)
        if (done) f.stmt(db, 'DELETE FROM file_to_replicate WHERE fid = ?').run(fid)
        return n
      })
    }
    // MySQL: one multi-statement round trip; a vanished file row is handled in
    // SQL. The UPDATE takes the file row's lock (a concurrent deleteKey waits, or
    // has already committed and the row is not found); its subquery is
    // correlated so the count is read after that lock is granted. The final
    // SELECT reads the devcount just written: no row = the file is gone.
    return f.myTx(async (conn) => {
      const sql = [
        'START TRANSACTION',
        'INSERT IGNORE INTO file_on (fid, devid) VALUES (?, ?)',
        'UPDATE file SET devcount = LEAST(255, (SELECT COUNT(*) FROM file_on WHERE file_on.fid = file.fid)) WHERE fid = ?',
        'INSERT IGNORE INTO file_to_delete2 (fid, nexttry, failcount) SELECT ?, ?, 0 FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM file WHERE fid = ?)',
        done ? 'DELETE FROM file_to_replicate WHERE fid = ?' : 'DELETE FROM file_to_replicate WHERE fid = ? AND NOT EXISTS (SELECT 1 FROM file WHERE fid = ?)',
        'SELECT devcount FROM file WHERE fid = ?',
        'COMMIT',
      ]
      const p = [fid, devid, fid, fid, now, fid, ...(done ? [fid] : [fid, fid]), fid]
      const r = (await f.q(conn, sql.join('; '), p)) as unknown[]
      const row = (r[5] as Array<{ devcount: number }>)[0]
      return row ? Number(row.devcount) : ('gone' as const)
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
