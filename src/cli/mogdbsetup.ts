/**
 * `mogdbsetup` — create or upgrade the MogileFS metadata database (schema 17).
 * Same options as the reference tool:
 *   --dbhost= --dbport= --dbname= (mogilefs) --dbrootuser= (root) --dbrootpass[word]=
 *   --dbuser= (mogile) --dbpass[word]= --type=MySQL|SQLite --yes --verbose --noschemabump
 * plus `--dsn=DBI:...` (e.g. `--dsn=DBI:SQLite:dbname=/var/lib/mogilefs/meta.db`);
 * with `--type=SQLite`, `--dbname` is the database file path.
 * MySQL: creates the database if needed, creates/grants the tracker user
 * (`CREATE USER IF NOT EXISTS` + `GRANT`, which works on MariaDB and MySQL 8),
 * then applies our migrations (tables created only when missing). Never
 * destroys existing data. Exit 0 on success, 1 on failure.
 */
import { createInterface } from 'node:readline/promises'
import knexPkg, { type Knex } from 'knex'
import { parseDsn, formatDsn, type Dsn } from '../personalities/mogilefs/db/dsn.js'
import { migrate, openKnex, schemaVersion } from '../personalities/mogilefs/db/connect.js'

const { knex } = knexPkg as unknown as { knex: (c: Knex.Config) => Knex }

const USAGE = `Usage: mogdbsetup [opts]

Options:
                  Default      Description
                  ============ ===========================================
 --verbose        <off>        Be verbose about what's happening.
 --dbhost=        localhost    hostname or IP to database server.
 --dbport=        3306         port number to database server.
 --dbname=        mogilefs     database name to create/upgrade (SQLite: file path).
 --dbrootuser=    root         Database administrator username.
 --dbrootpass=    <blank>      Database administrator password.
 --dbuser=        mogile       Regular database user the trackers connect as.
 --dbpass=        <blank>      Password of that user.
 --type=          MySQL        MySQL or SQLite.
 --dsn=                        A DBI DSN instead of the above (DBI:mysql:... or DBI:SQLite:dbname=...).
 --noschemabump                Do not record the schema version.
 --yes                         Run without questions.
`

const IDENT = /^[A-Za-z0-9_$]+$/

export async function main(argv: string[]): Promise<number> {
  const a: Record<string, string> = {}
  const flags = new Set<string>()
  for (const arg of argv) {
    const m = /^--?([a-z]+)(?:=(.*))?$/.exec(arg)
    if (!m) {
      process.stderr.write(USAGE)
      return 1
    }
    if (m[2] === undefined && ['help', 'verbose', 'yes', 'noschemabump'].includes(m[1])) flags.add(m[1])
    else a[m[1] === 'dbpassword' ? 'dbpass' : m[1] === 'dbrootpassword' ? 'dbrootpass' : m[1]] = m[2] ?? ''
  }
  if (flags.has('help')) {
    process.stderr.write(USAGE)
    return 1
  }
  const verbose = (s: string) => flags.has('verbose') && process.stderr.write(s + '\n')
  let dsn: Dsn
  try {
    if (a.dsn) dsn = parseDsn(a.dsn)
    else if ((a.type ?? 'MySQL').toLowerCase() === 'sqlite') dsn = { kind: 'sqlite', filename: a.dbname || 'mogilefs.sqlite' }
    else if ((a.type ?? 'MySQL').toLowerCase() === 'mysql') dsn = { kind: 'mysql', database: a.dbname || 'mogilefs', host: a.dbhost || 'localhost', port: Number(a.dbport || 3306) }
    else throw new Error(`unsupported --type ${a.type} (MySQL or SQLite)`)
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    return 1
  }
  if (!flags.has('yes')) {
    const rl = createInterface({ input: process.stdin, output: process.stdout })
    const ans = await rl.question("\nThis will attempt to setup or upgrade your MogileFS database.\nIt won't destroy existing data.\nRun with --help for more information.  Run with --yes to shut up these prompts.\n\nContinue? [N/y]: ")
    rl.close()
    if (!/^y/i.test(ans)) {
      process.stderr.write('Stopped.\n')
      return 1
    }
  }
  try {
    if (dsn.kind === 'mysql') await setupMysql(dsn, a, verbose)
    const k = openKnex(dsn, { user: a.dbrootuser || 'root', password: a.dbrootpass ?? '' })
    try {
      const before = await schemaVersion(k)
      verbose(before ? `Existing schema version ${before}; upgrading if needed.` : 'Creating tables...')
      await migrate(k)
      if (flags.has('noschemabump')) process.stderr.write('\n*\n* Per your request, NOT UPGRADING to 17.  I assume you understand why.\n*\n')
    } finally {
      await k.destroy()
    }
    verbose(`Database ready: ${formatDsn(dsn)}`)
    verbose('Done.')
    return 0
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nDatabase upgrade failed.\n`)
    return 1
  }
}

/** CREATE DATABASE IF NOT EXISTS + the tracker user with all privileges on it. */
async function setupMysql(dsn: Extract<Dsn, { kind: 'mysql' }>, a: Record<string, string>, verbose: (s: string) => void): Promise<void> {
  const user = a.dbuser || 'mogile'
  const root = a.dbrootuser || 'root'
  if (!IDENT.test(dsn.database)) throw new Error(`invalid database name ${JSON.stringify(dsn.database)}`)
  if (!IDENT.test(user)) throw new Error(`invalid user name ${JSON.stringify(user)}`)
  const k = knex({ client: 'mysql2', connection: { host: dsn.host, port: dsn.port, user: root, password: a.dbrootpass ?? '', connectTimeout: 10_000 }, pool: { min: 0, max: 1 } })
  try {
    verbose(`Creating database ${dsn.database} (if missing)...`)
    await k.raw(`CREATE DATABASE IF NOT EXISTS \`${dsn.database}\``)
    if (user !== root) {
      for (const h of ['%', 'localhost']) {
        verbose(`Granting privileges to ${user}@${h}...`)
        await k.raw(`CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?`, [user, h, a.dbpass ?? ''])
        await k.raw(`GRANT ALL PRIVILEGES ON \`${dsn.database}\`.* TO ?@?`, [user, h])
      }
      await k.raw('FLUSH PRIVILEGES')
    }
  } finally {
    await k.destroy()
  }
}
