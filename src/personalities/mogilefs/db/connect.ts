/**
 * Opens the metadata database behind a DBI DSN with knex and brings the schema
 * to version 17 (knex migrations in <repo>/migrations). Used by mogilefsd at
 * start, by mogdbsetup and by the store contract tests.
 */
import path from 'node:path'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import knexPkg, { type Knex } from 'knex'
import type { Dsn } from './dsn.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.db')
const { knex } = knexPkg as unknown as { knex: (c: Knex.Config) => Knex }

/** Repository root (dist/personalities/mogilefs/db → ../../../..). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')
export const MIGRATIONS_DIR = path.join(ROOT, 'migrations')

export interface OpenOptions {
  user?: string
  password?: string
  /** Upper bound of pooled MySQL connections (why bounded: each tracker must not exhaust max_connections). */
  poolMax?: number
  /** SQLite only: 'normal' (default, crash-safe per process) or 'full' (fsync per commit, power-cut safe). */
  sqliteSync?: 'normal' | 'full'
}

/** Build a knex instance for the DSN. Absent database/file is reported on first query, not here. */
export function openKnex(dsn: Dsn, o: OpenOptions = {}): Knex {
  if (dsn.kind === 'sqlite') {
    if (dsn.filename !== ':memory:') mkdirSync(path.dirname(path.resolve(dsn.filename)), { recursive: true })
    return knex({
      client: 'better-sqlite3',
      connection: { filename: dsn.filename },
      useNullAsDefault: true,
      // better-sqlite3 is synchronous and single-writer: one connection serialises
      // all statements and transactions in this process without SQLITE_BUSY games.
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { pragma(s: string): unknown }, done: (e: Error | null, c: unknown) => void) => {
          try {
            // WAL: readers (another tracker, sqlite3 CLI, mogstats) never block the writer
            // and a commit is one sequential append.
            conn.pragma('journal_mode = WAL')
            // synchronous: NORMAL by default. In WAL mode a committed transaction is in
            // the WAL file (OS page cache) before create_close answers, so it survives
            // a crash of any process; only an OS crash/power cut can lose the last
            // commits (the WAL is fsynced at checkpoints). FULL fsyncs every commit
            // and, because better-sqlite3 runs on the event-loop thread, would stall
            // every client for each fsync. `sqlite_synchronous = full` chooses FULL.
            conn.pragma(`synchronous = ${o.sqliteSync === 'full' ? 'FULL' : 'NORMAL'}`)
            // busy_timeout 5 s: a second tracker process sharing the file waits for the
            // other's short write transaction instead of failing with SQLITE_BUSY.
            conn.pragma('busy_timeout = 5000')
            conn.pragma('foreign_keys = OFF')
            done(null, conn)
          } catch (e) {
            done(e as Error, conn)
          }
        },
      },
    })
  }
  return knex({
    client: 'mysql2',
    connection: {
      host: dsn.host,
      port: dsn.port,
      socketPath: dsn.socketPath,
      user: o.user,
      password: o.password ?? '',
      database: dsn.database,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      // 10 s: fail a tracker start quickly when the DB host is unreachable.
      connectTimeout: 10_000,
      // FastSql sends a transaction as two multi-statement round trips instead of
      // eight. Safe: every value is passed as a bound parameter, never spliced in.
      multipleStatements: true,
    },
    pool: {
      min: 0,
      max: o.poolMax ?? 10,
      // READ COMMITTED: no gap locks on lookups of absent keys, so concurrent
      // create_close transactions for different keys do not deadlock each other
      // (REPEATABLE READ + SELECT ... FOR UPDATE on a missing dkey did, under load).
      afterCreate: (conn: { query(sql: string, cb: (e: Error | null) => void): void }, done: (e: Error | null, c: unknown) => void) => {
        conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (e) => done(e, conn))
      },
    },
    // 30 s: a pool wait longer than that means the DB is stuck; surface it as ERR db.
    acquireConnectionTimeout: 30_000,
  })
}

/** Apply pending migrations (idempotent; accepts a schema made by the reference mogdbsetup). */
export async function migrate(k: Knex): Promise<void> {
  const [, done] = (await k.migrate.latest({ directory: MIGRATIONS_DIR, loadExtensions: ['.cjs'] })) as [number, string[]]
  if (done.length) log.info({ migrations: done }, 'schema migrated')
}

/** Read server_settings.schema_version (undefined when the table or row is absent). */
export async function schemaVersion(k: Knex): Promise<number | undefined> {
  if (!(await k.schema.hasTable('server_settings'))) return undefined
  const row = await k('server_settings').where({ field: 'schema_version' }).first()
  return row ? Number(row.value) : undefined
}
