/**
 * MetadataStore: every read and write of the MogileFS metadata (schema 17) goes
 * through here, on MySQL/MariaDB (mysql2) or SQLite (better-sqlite3) via knex.
 * The tracker, its jobs, mogdbsetup and the contract tests use it; nothing else
 * touches SQL. Namespace objects (domains, classes, hosts, devices, settings) are
 * here; files and queues live in file-store.ts and queue-store.ts.
 *
 * Several trackers may share one database: ids are allocated inside
 * transactions, unique keys catch the races, and queue rows are claimed with a
 * lease (see queue-store.ts).
 */
import type { Knex } from 'knex'
import type { Dsn } from './dsn.js'
import { migrate, openKnex, type OpenOptions } from './connect.js'
import type { ClassRow, DeviceRow, DomainRow, HostRow } from './types.js'
import { FileStore } from './file-store.js'
import { QueueStore } from './queue-store.js'
import { FastSql } from './fast-sql.js'

/** Thrown for unique-key violations so commands can answer `ERR dup`/`*_exists`. */
export class DuplicateError extends Error {
  constructor(message = 'duplicate') {
    super(message)
    this.name = 'DuplicateError'
  }
}

export function isDuplicate(e: unknown): boolean {
  const err = e as { code?: string; errno?: number }
  return err?.code === 'ER_DUP_ENTRY' || err?.errno === 1062 || /UNIQUE constraint failed|PRIMARY KEY constraint/i.test(String((e as Error)?.message))
}

function isDeadlock(e: unknown): boolean {
  const err = e as { code?: string; errno?: number }
  return err?.errno === 1213 || err?.errno === 1205 || /^SQLITE_BUSY/.test(err?.code ?? '')
}

export class MetadataStore {
  readonly files: FileStore
  readonly queues: QueueStore
  readonly mysql: boolean
  /** Raw-driver statements for the hot paths (see fast-sql.ts). */
  readonly fast: FastSql

  private constructor(readonly k: Knex) {
    this.mysql = k.client.config.client === 'mysql2'
    this.fast = new FastSql(k, this.mysql)
    this.files = new FileStore(this)
    this.queues = new QueueStore(this)
  }

  /** Open (and migrate unless `migrate: false`) the store behind a parsed DSN. */
  static async open(dsn: Dsn, o: OpenOptions & { migrate?: boolean } = {}): Promise<MetadataStore> {
    const k = openKnex(dsn, o)
    try {
      if (o.migrate !== false) await migrate(k)
      else await k.raw('SELECT 1')
    } catch (e) {
      await k.destroy()
      throw e
    }
    return new MetadataStore(k)
  }

  async close(): Promise<void> {
    await this.k.destroy()
  }

  /**
   * Run `fn` in a transaction. Why the retry: InnoDB resolves lock conflicts
   * between concurrent trackers by killing one transaction (deadlock / lock wait
   * timeout); re-running it is the documented remedy. Five tries, short jittered backoff.
   */
  async tx<T>(fn: (t: Knex.Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.k.transaction(fn)
      } catch (e) {
        if (attempt >= 5 || !isDeadlock(e)) throw e
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20))
      }
    }
  }

  /** Apply SELECT ... FOR UPDATE on MySQL (SQLite transactions are already serialised). */
  lock<Q extends Knex.QueryBuilder>(q: Q): Q {
    return (this.mysql ? q.forUpdate() : q) as Q
  }

  // ---- domains ---------------------------------------------------------------

  async domains(): Promise<DomainRow[]> {
    return this.k('domain').select('dmid', 'namespace').orderBy('dmid')
  }

  /** Allocate MAX(dmid)+1 (as the reference does); DuplicateError if the name exists. */
  async createDomain(namespace: string): Promise<number> {
    try {
      return await this.tx(async (t) => {
        const row = await this.lock(t('domain').max({ m: 'dmid' })).first()
        const dmid = Number(row?.m ?? 0) + 1
        await t('domain').insert({ dmid, namespace })
        return dmid
      })
    } catch (e) {
      if (isDuplicate(e)) throw new DuplicateError()
      throw e
    }
  }

  async deleteDomain(dmid: number): Promise<void> {
    await this.k('domain').where({ dmid }).delete()
  }

  async domainHasFiles(dmid: number): Promise<boolean> {
    return !!(await this.k('file').where({ dmid }).first('fid'))
  }

  // ---- classes ---------------------------------------------------------------

  async classes(): Promise<ClassRow[]> {
    return this.k('class').select('dmid', 'classid', 'classname', 'mindevcount', 'hashtype', 'replpolicy').orderBy(['dmid', 'classid'])
  }

  /** classid = MAX+1 within the domain (1 upward; 0 is the implicit `default`), or `classid` if given. */
  async createClass(c: Omit<ClassRow, 'classid'> & { classid?: number }): Promise<number> {
    try {
      return await this.tx(async (t) => {
        let classid = c.classid
        if (classid === undefined) {
          const row = await this.lock(t('class').where({ dmid: c.dmid }).max({ m: 'classid' })).first()
          classid = Number(row?.m ?? 0) + 1
        }
        await t('class').insert({ ...c, classid })
        return classid
      })
    } catch (e) {
      if (isDuplicate(e)) throw new DuplicateError()
      throw e
    }
  }

  async updateClass(dmid: number, classid: number, set: Partial<Pick<ClassRow, 'mindevcount' | 'hashtype' | 'replpolicy' | 'classname'>>): Promise<void> {
    if (Object.keys(set).length) await this.k('class').where({ dmid, classid }).update(set)
  }

  async deleteClass(dmid: number, classid: number): Promise<void> {
    await this.k('class').where({ dmid, classid }).delete()
  }

  async classHasFiles(dmid: number, classid: number): Promise<boolean> {
    return !!(await this.k('file').where({ dmid, classid }).first('fid'))
  }

  // ---- hosts -----------------------------------------------------------------

  async hosts(): Promise<HostRow[]> {
    return this.k('host').select('*').orderBy('hostid')
  }

  /** hostid = MAX+1. DuplicateError when the name or an IP is already used. */
  async createHost(h: Omit<HostRow, 'hostid'>): Promise<number> {
    try {
      return await this.tx(async (t) => {
        const row = await this.lock(t('host').max({ m: 'hostid' })).first()
        const hostid = Number(row?.m ?? 0) + 1
        await t('host').insert({ ...h, hostid })
        return hostid
      })
    } catch (e) {
      if (isDuplicate(e)) throw new DuplicateError()
      throw e
    }
  }

  async updateHost(hostid: number, set: Partial<Omit<HostRow, 'hostid'>>): Promise<void> {
    if (!Object.keys(set).length) return
    try {
      await this.k('host').where({ hostid }).update(set)
    } catch (e) {
      if (isDuplicate(e)) throw new DuplicateError()
      throw e
    }
  }

  async deleteHost(hostid: number): Promise<void> {
    await this.k('host').where({ hostid }).delete()
  }

  // ---- devices ---------------------------------------------------------------

  async devices(): Promise<DeviceRow[]> {
    return this.k('device').select('*').orderBy('devid')
  }

  async createDevice(d: Pick<DeviceRow, 'devid' | 'hostid' | 'status'>): Promise<void> {
    try {
      await this.k('device').insert({ ...d, weight: 100 })
    } catch (e) {
      if (isDuplicate(e)) throw new DuplicateError()
      throw e
    }
  }

  async updateDevice(devid: number, set: Partial<Omit<DeviceRow, 'devid'>>): Promise<void> {
    if (Object.keys(set).length) await this.k('device').where({ devid }).update(set)
  }

  // ---- server settings -------------------------------------------------------

  async settings(): Promise<Record<string, string>> {
    const rows: Array<{ field: string; value: string | null }> = await this.k('server_settings').select('field', 'value')
    const out: Record<string, string> = {}
    for (const r of rows) out[r.field] = r.value ?? ''
    return out
  }

  async setting(field: string): Promise<string | undefined> {
    const r = await this.k('server_settings').where({ field }).first('value')
    return r ? (r.value ?? '') : undefined
  }

  /** Upsert a setting; `undefined` deletes it. */
  async setSetting(field: string, value: string | undefined): Promise<void> {
    if (value === undefined) await this.k('server_settings').where({ field }).delete()
    else await this.k('server_settings').insert({ field, value }).onConflict('field').merge()
  }
}
