/**
 * Hot-path SQL without the query builder: FileStore's per-upload and
 * per-fetch statements (create_open, create_close, get_paths, replication
 * bookkeeping) run here on the raw driver connection borrowed from knex's pool.
 *
 * Why: profiling the tracker under 8 concurrent stores showed ~40 % of its CPU
 * in knex (query compilation, a new transaction object per transaction) and in
 * better-sqlite3 re-preparing every statement. Here SQLite statements are
 * prepared once per connection and a transaction is one synchronous call; on
 * MySQL a transaction is sent as two multi-statement round trips instead of
 * eight single ones. Borrowing the connection from the pool keeps the
 * exclusivity knex gives (SQLite has exactly one connection; a knex transaction
 * holds it until it ends), so knex and raw statements never interleave.
 */
import type { Knex } from 'knex'

export interface SqliteStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint }
  all(...params: unknown[]): Array<Record<string, unknown>>
  get(...params: unknown[]): Record<string, unknown> | undefined
}

export interface SqliteDb {
  prepare(sql: string): SqliteStatement
  transaction<F extends (...a: never[]) => unknown>(fn: F): F & { immediate: F }
}

interface MysqlConn {
  query(sql: string, params: unknown[], cb: (e: Error | null, r: unknown) => void): void
  execute(sql: string, params: unknown[], cb: (e: Error | null, r: unknown) => void): void
}

/** A write result on MySQL (affected rows, new auto-increment id). */
export interface MysqlOk {
  affectedRows: number
  insertId: number
}

export function isMysqlDeadlock(e: unknown): boolean {
  const err = e as { errno?: number }
  return err?.errno === 1213 || err?.errno === 1205
}

export class FastSql {
  private readonly stmts = new WeakMap<object, Map<string, SqliteStatement>>()

  constructor(
    private readonly k: Knex,
    readonly mysql: boolean,
  ) {}

  /** Borrow the driver connection from knex's pool for `fn`; always returned, even when `fn` throws. */
  async with<T>(fn: (conn: unknown) => T | Promise<T>): Promise<T> {
    const client = this.k.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> }
    const conn = await client.acquireConnection()
    try {
      return await fn(conn)
    } finally {
      await client.releaseConnection(conn)
    }
  }

  /** A prepared statement of this SQLite connection, prepared on first use. */
  stmt(db: SqliteDb, sql: string): SqliteStatement {
    let m = this.stmts.get(db)
    if (!m) this.stmts.set(db, (m = new Map()))
    let s = m.get(sql)
    if (!s) m.set(sql, (s = db.prepare(sql)))
    return s
  }

  /** Run a synchronous SQLite transaction (BEGIN IMMEDIATE: take the write lock up front, no upgrade deadlock). */
  sqliteTx<T>(fn: (db: SqliteDb) => T): Promise<T> {
    return this.with((conn) => {
      const db = conn as SqliteDb
      return db.transaction(() => fn(db)).immediate()
    })
  }

  /** One SQLite statement outside a transaction. */
  sqlite<T>(fn: (db: SqliteDb) => T): Promise<T> {
    return this.with((conn) => fn(conn as SqliteDb))
  }

  /** Send one (possibly multi-statement) query on a MySQL connection; multi-statement → array of results. */
  q(conn: unknown, sql: string, params: unknown[] = []): Promise<unknown> {
    return new Promise((resolve, reject) => (conn as MysqlConn).query(sql, params, (e, r) => (e ? reject(e) : resolve(r))))
  }

  /** A single MySQL statement on a pooled connection (autocommit). */
  my(sql: string, params: unknown[] = []): Promise<unknown> {
    return this.with((c) => this.q(c, sql, params))
  }

  /**
   * A single-statement read on a pooled connection as a server-side prepared
   * statement (mysql2 keeps one per SQL text and connection). Why: the hot
   * reads (get_paths' join, the file and tempfile lookups) then skip MariaDB's
   * SQL parser; measured here, 163 -> 139 us of database CPU per get_paths
   * query, and -11% database CPU over a 4 KiB fetch run, for ~5% more tracker
   * CPU (binary protocol decoding). The database is the part of a MogileFS
   * install that does not scale out (trackers do), so it is the one to spare.
   * Multi-statement batches and transactions stay on `q`.
   */
  myRead(sql: string, params: unknown[] = []): Promise<unknown> {
    return this.with((c) => new Promise((resolve, reject) => (c as MysqlConn).execute(sql, params, (e, r) => (e ? reject(e) : resolve(r)))))
  }

  /**
   * A MySQL transaction on one connection. `fn` sends its statements (the first
   * batch starts with START TRANSACTION, the last ends with COMMIT); on any
   * error the transaction is rolled back. Why the retry: InnoDB kills one side
   * of a lock conflict (deadlock / lock wait timeout); re-running is the
   * documented remedy. Five tries, short jittered backoff, as MetadataStore.tx.
   */
  async myTx<T>(fn: (conn: unknown) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.with(async (c) => {
          try {
            return await fn(c)
          } catch (e) {
            await this.q(c, 'ROLLBACK').catch(() => {})
            throw e
          }
        })
      } catch (e) {
        if (attempt >= 5 || !isMysqlDeadlock(e)) throw e
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20))
      }
    }
  }
}
