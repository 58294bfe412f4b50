/**
 * Perl DBI data-source names as written in mogilefsd.conf (`db_dsn`) and
 * accepted by mogdbsetup, turned into a knex connection config.
 *
 *   DBI:mysql:mogilefs;host=127.0.0.1;port=3306     (also `database=`/`dbname=`, `:` or `;` separators)
 *   DBI:mysql:database=mogilefs:host=db1
 *   DBI:SQLite:dbname=/var/lib/mogilefs/meta.db      (also `DBI:SQLite:/path`)
 *
 * The reference sample config writes `DBI:mysql:mogref:host=127.0.0.1;port=3306`,
 * so both `:` and `;` separate the attribute pairs after the driver name.
 */

export interface MysqlDsn {
  kind: 'mysql'
  database: string
  host: string
  port: number
  socketPath?: string
}

export interface SqliteDsn {
  kind: 'sqlite'
  filename: string
}

export type Dsn = MysqlDsn | SqliteDsn

export class DsnError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DsnError'
  }
}

/**
 * Parse a DBI DSN. Called by the tracker config loader and mogdbsetup.
 * Throws DsnError for an unknown driver or a MySQL DSN without a database name.
 */
export function parseDsn(dsn: string): Dsn {
  const m = /^dbi:([A-Za-z0-9_]+):(.*)$/i.exec(dsn.trim())
  if (!m) throw new DsnError(`bad DSN ${JSON.stringify(dsn)} (expected DBI:mysql:... or DBI:SQLite:...)`)
  const driver = m[1].toLowerCase()
  const rest = m[2]
  if (driver === 'sqlite') {
    const fm = /^(?:dbname|database)=(.*)$/i.exec(rest.split(';')[0])
    const filename = (fm ? fm[1] : rest.split(';')[0]).trim()
    if (!filename) throw new DsnError(`SQLite DSN without a file name: ${JSON.stringify(dsn)}`)
    return { kind: 'sqlite', filename }
  }
  if (driver !== 'mysql' && driver !== 'mariadb') throw new DsnError(`unsupported DBI driver ${JSON.stringify(m[1])} (mysql or SQLite)`)
  const out: MysqlDsn = { kind: 'mysql', database: '', host: 'localhost', port: 3306 }
  for (const piece of rest.split(/[;:]/)) {
    if (!piece) continue
    const eq = piece.indexOf('=')
    if (eq < 0) {
      if (!out.database) out.database = piece
      continue
    }
    const k = piece.slice(0, eq).trim().toLowerCase()
    const v = piece.slice(eq + 1).trim()
    if (k === 'database' || k === 'dbname' || k === 'db') out.database = v
    else if (k === 'host' || k === 'hostname') out.host = v
    else if (k === 'port') {
      const p = Number(v)
      if (!Number.isInteger(p) || p <= 0 || p > 65535) throw new DsnError(`bad port in DSN ${JSON.stringify(dsn)}`)
      out.port = p
    } else if (k === 'mysql_socket') out.socketPath = v
  }
  if (!out.database) throw new DsnError(`MySQL DSN without a database name: ${JSON.stringify(dsn)}`)
  return out
}

/** Render a DSN back to its DBI form (for logs and mogdbsetup output). */
export function formatDsn(d: Dsn): string {
  return d.kind === 'sqlite' ? `DBI:SQLite:dbname=${d.filename}` : `DBI:mysql:${d.database};host=${d.host};port=${d.port}`
}
