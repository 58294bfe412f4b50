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
            // synchronous=FULL: a commit is fsynced before create_close answers OK —
            // an acknowledged upload must survive a power cut.
            conn.pragma('synchronous = FULL')
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
    },
    pool: { min: 0, max: o.poolMax ?? 10 },
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
