/**
 * `mogstats` (MogileFS-Utils 2.30): statistics read straight from the
 * MogileFS database, as the original does (it never asks the tracker).
 *   mogstats --db_dsn="DBI:mysql:mfs:host=mfshost;port=3306" --db_user=mfs --db_pass=mfs [--stats=devices,files] [--verbose]
 * Options also come from --config, ~/.mogilefs.conf, /etc/mogilefs/mogilefs.conf.
 * MySQL/MariaDB DSNs (mysql2) and, for our tracker's default store, `DBI:SQLite:dbname=FILE`.
 */
import os from 'node:os'
import path from 'node:path'
import knex from 'knex'
import mysql from 'mysql2/promise'
import { getopts, readConfFiles } from '../personalities/mogilefs/client/tool-options.js'

const ENDOFTIME = 2147483647
const VALID = ['devices', 'fids', 'files', 'domains', 'replication', 'replication-queue', 'delete-queue', 'general-queues', 'all']
const QUEUES: Record<number, string> = { 1: 'FSCK_QUEUE', 2: 'REBAL_QUEUE' }

function usage(message?: string): number {
  let out = message ? `ERROR: ${message}\n\n` : ''
  out += `Usage:
    mogstats --db_dsn="DBI:mysql:mfs:host=mfshost" --db_user="mfs" \\
             --db_pass="mfs" --verbose --stats="devices,files"
    mogstats --stats="all"
    mogstats [all options in ~/.mogilefs.conf]
`
  out += `valid stats: ${[...VALID].sort().join(', ')}\n`
  process.stdout.write(out)
  return 1
}

/** `DBI:mysql:dbname:host=h;port=p` (also `database=`) → mysql2 connection options. */
export function parseDsn(dsn: string): { host: string; port: number; database: string } {
  const m = /^DBI:mysql:(.*)$/i.exec(dsn)
  if (!m) throw new Error(`unsupported DSN (MySQL only): ${dsn}`)
  const o = { host: '127.0.0.1', port: 3306, database: '' }
  for (const part of m[1].split(/[;:]/)) {
    const kv = /^(\w+)=(.*)$/.exec(part)
    if (!kv) {
      if (part && !o.database) o.database = part
      continue
    }
    if (kv[1] === 'host') o.host = kv[2]
    else if (kv[1] === 'port') o.port = Number(kv[2])
    else if (kv[1] === 'database' || kv[1] === 'dbname') o.database = kv[2]
  }
  return o
}

type Row = (string | number | null)[]

export async function main(argv: string[]): Promise<number> {
  let opts: Record<string, string | boolean>
  try {
    opts = getopts(argv, ['config=s', 'lib=s', 'help', 'verbose', 'stats=s', 'db_dsn=s', 'db_user=s', 'db_pass=s']).values
  } catch {
    return usage()
  }
  opts = { ...readConfFiles([opts.config as string | undefined, path.join(process.env.HOME ?? os.homedir(), '.mogilefs.conf'), '/etc/mogilefs/mogilefs.conf']), ...opts }
  if (opts.help) return usage()
  const argStr = (opts.stats as string | undefined) || 'all'
  const want = new Set(argStr.split(','))
  for (const a of want) if (!VALID.includes(a)) return usage(`Invalid stat ${a}`)
  const has = (k: string) => want.has(k) || want.has('all')
  const verbose = (s: string) => opts.verbose && process.stdout.write(s + '\n')
  process.stdout.write(`Fetching statistics... (${argStr})\n`)
  if (!opts.db_dsn) {
    process.stderr.write('Can\'t fetch stats: no db_dsn configured\n')
    return 255
  }
  const dsn = String(opts.db_dsn)
  let q: (sql: string) => Promise<Row[]>
  let end: () => Promise<void>
  const lite = /^DBI:SQLite:(?:dbname=)?(.+)$/i.exec(dsn)
  if (lite) {
    // Our tracker's default store; the SQL above is portable except UNIX_TIMESTAMP().
    const db = knex({ client: 'better-sqlite3', connection: { filename: lite[1], options: { readonly: true } }, useNullAsDefault: true })
    q = async (sql) => ((await db.raw(sql.replace('UNIX_TIMESTAMP()', "CAST(strftime('%s','now') AS INTEGER)"))) as Record<string, unknown>[]).map((r) => Object.values(r) as Row)
    end = () => db.destroy()
  } else {
    const db = await mysql.createConnection({ ...parseDsn(dsn), user: String(opts.db_user ?? ''), password: String(opts.db_pass ?? ''), rowsAsArray: true, supportBigNumbers: true, bigNumberStrings: true })
    q = async (sql) => (await db.query(sql))[0] as unknown as Row[]
    end = () => db.end()
  }
  let out = ''
  const p = (s: string) => (out += s)
  try {
    const classes = new Map<string, { name: string; classes: Map<string, string> }>()
    for (const r of await q('SELECT d.dmid, d.namespace, c.classid, c.classname FROM domain d LEFT JOIN class c ON c.dmid=d.dmid')) {
      const d = classes.get(String(r[0])) ?? { name: String(r[1]), classes: new Map([['0', 'default']]) }
      d.classes.set(String(r[2] ?? 0), r[2] ? String(r[3]) : 'default')
      classes.set(String(r[0]), d)
    }
    const dom = (dmid: unknown) => classes.get(String(dmid))?.name ?? ''
    const cls = (dmid: unknown, cid: unknown) => classes.get(String(dmid))?.classes.get(String(cid)) ?? ''
    const devices = new Map<string, { host: string; status: string }>()
    for (const r of await q('SELECT device.devid, hostname, device.status FROM device, host WHERE device.hostid = host.hostid')) devices.set(String(r[0]), { host: String(r[1]), status: String(r[2]) })
    const dbTime = Number((await q('SELECT UNIX_TIMESTAMP()'))[0][0])
    const bucket = (nexttry: number, zero: string): string => (nexttry < 1000 ? ({ 0: zero, 1: 'redo' } as Record<number, string>)[nexttry] ?? 'unknown' : nexttry === ENDOFTIME ? 'manual' : nexttry < dbTime ? 'overdue' : 'deferred')
    const sortedNested = <T>(m: Map<string, Map<string, T>>) => [...m.keys()].sort().flatMap((d) => [...(m.get(d) as Map<string, T>).keys()].sort().map((c) => [d, c, (m.get(d) as Map<string, T>).get(c) as T] as const))
    const nest = <T>(m: Map<string, Map<string, T>>, d: string, c: string, v: T) => {
      if (!m.has(d)) m.set(d, new Map())
      ;(m.get(d) as Map<string, T>).set(c, v)
    }
    if (has('devices')) {
      verbose('... per-device stats...')
      const rows = await q('SELECT devid, COUNT(devid) FROM file_on GROUP BY 1')
      verbose('... done')
      p('\nStatistics for devices...\n')
      p(`  ${'device'.padEnd(10)} ${'host'.padEnd(15)} ${'files'.padStart(12)} ${'status'.padStart(10)}\n`)
      p('  ---------- ---------------- ------------ ----------\n')
      for (const r of rows.sort((a, b) => Number(a[0]) - Number(b[0]))) {
        const d = devices.get(String(r[0]))
        p(`  ${`dev${r[0]}`.padEnd(10)} ${(d?.host ?? '').padEnd(10)} ${String(r[1]).padStart(10)} ${(d?.status ?? '').padStart(10)}\n`)
      }
      p('  ---------- ---------------- ------------ ----------\n')
    }
    if (has('fids')) {
      verbose('... fid stats...')
      const max = (await q('SELECT MAX(fid) FROM file'))[0][0]
      verbose('... done')
      p('\nStatistics for file ids...\n')
      p(`  Max file id: ${max && String(max) !== '0' ? max : 'none'}\n`)
    }
    if (has('files')) {
      verbose('... files stats...')
      const m = new Map<string, Map<string, Row>>()
      for (const r of await q('SELECT dmid, classid, COUNT(classid), sum(length), sum(length * devcount) FROM file GROUP BY 1, 2')) nest(m, dom(r[0]), cls(r[0], r[1]), r)
      verbose('... done')
      p('\nStatistics for files...\n')
      p(`  ${'domain'.padEnd(20)} ${'class'.padEnd(10)} ${'files'.padStart(10)} ${'size (m)'.padStart(11)} ${'fullsize (m)'.padStart(13)}\n`)
      p('  -------------------- ----------- ---------- ----------- -------------\n')
      for (const [d, c, r] of sortedNested(m)) {
        p(`  ${d.padEnd(20)} ${c.padEnd(10)} ${String(r[2]).padStart(10)} ${String(Math.trunc(Number(r[3]) / 1048576)).padStart(11)} ${String(Math.trunc(Number(r[4]) / 1048576)).padStart(13)}\n`)
      }
      p('  -------------------- ----------- ---------- ----------- -------------\n')
    }
    if (want.has('domains') && !has('files')) {
      verbose('... domains stats...')
      const m = new Map<string, Map<string, string>>()
      for (const r of await q('SELECT dmid, classid, COUNT(classid) FROM file GROUP BY 1, 2')) nest(m, dom(r[0]), cls(r[0], r[1]), String(r[2]))
      verbose('... done')
      p('\nStatistics for domains...\n')
      p(`  ${'domain'.padEnd(20)} ${'class'.padEnd(10)} ${'files'.padStart(10)}\n`)
      p('  -------------------- ----------- ----------\n')
      for (const [d, c, n] of sortedNested(m)) p(`  ${d.padEnd(20)} ${c.padEnd(10)} ${n.padStart(10)}\n`)
      p('  -------------------- ----------- ----------\n')
    }
    if (has('replication')) {
      verbose('... replication stats...')
      const rows = await q('SELECT dmid, classid, devcount, COUNT(devcount) FROM file GROUP BY 1, 2, 3')
      verbose('... done')
      p('\nStatistics for replication...\n')
      p(`  ${'domain'.padEnd(20)} ${'class'.padEnd(10)} ${'devcount'.padStart(10)} ${'files'.padStart(10)}\n`)
      p('  -------------------- ----------- ---------- ----------\n')
      const m = new Map<string, Map<string, Map<number, string>>>()
      for (const r of rows) {
        const d = dom(r[0])
        const c = cls(r[0], r[1])
        if (!m.has(d)) m.set(d, new Map())
        const dm = m.get(d) as Map<string, Map<number, string>>
        if (!dm.has(c)) dm.set(c, new Map())
        ;(dm.get(c) as Map<number, string>).set(Number(r[2]), String(r[3]))
      }
      for (const [d, c, dc] of sortedNested(m)) for (const n of [...dc.keys()].sort((a, b) => a - b)) p(`  ${d.padEnd(20)} ${c.padEnd(10)} ${String(n).padStart(10)} ${(dc.get(n) as string).padStart(10)}\n`)
      p('  -------------------- ----------- ---------- ----------\n')
    }
    const queueTable = (title: string, rows: Map<string, number>) => {
      p(`\nStatistics for ${title}...\n`)
      p(`  ${'status'.padEnd(20)} ${'count'.padStart(12)}\n`)
      p('  -------------------- ------------\n')
      for (const k of [...rows.keys()].sort()) p(`  ${k.padEnd(20)} ${String(rows.get(k)).padStart(12)}\n`)
      p('  -------------------- ------------\n')
    }
    if (has('replication-queue')) {
      const m = new Map<string, number>()
      for (const r of await q('SELECT nexttry, COUNT(*) FROM file_to_replicate GROUP BY 1')) {
        const b = bucket(Number(r[0]), 'newfile')
        m.set(b, (b === 'manual' ? 0 : m.get(b) ?? 0) + Number(r[1]))
      }
      queueTable('replication queue', m)
    }
    if (has('delete-queue')) {
      const m = new Map<string, number>()
      for (const r of await q('SELECT nexttry, COUNT(*) FROM file_to_delete2 GROUP BY 1')) {
        const b = bucket(Number(r[0]), 'new')
        m.set(b, (b === 'manual' ? 0 : m.get(b) ?? 0) + Number(r[1]))
      }
      queueTable('delete queue', m)
    }
    if (has('general-queues')) {
      const m = new Map<string, Map<string, number>>()
      for (const r of await q('SELECT type, nexttry, COUNT(*) FROM file_to_queue GROUP BY 1, 2')) {
        const qn = QUEUES[Number(r[0])] ?? 'UNKNOWN_QUEUE'
        // The original compares the queue TYPE (not nexttry) with the DB time for overdue/deferred.
        const nt = Number(r[1])
        const b = nt < 1000 ? ({ 0: 'new', 1: 'redo' } as Record<number, string>)[nt] ?? 'unknown' : nt === ENDOFTIME ? 'manual' : Number(r[0]) < dbTime ? 'overdue' : 'deferred'
        if (!m.has(qn)) m.set(qn, new Map())
        const qm = m.get(qn) as Map<string, number>
        qm.set(b, (b === 'manual' ? 0 : qm.get(b) ?? 0) + Number(r[2]))
      }
      p('\nStatistics for general queues...\n')
      p(`  ${'queue'.padEnd(15)} ${'status'.padEnd(20)} ${'count'.padStart(12)}\n`)
      p('  --------------- -------------------- ------------\n')
      for (const [qn, st, n] of sortedNested(m)) p(`  ${qn.padEnd(15)} ${st.padEnd(20)} ${String(n).padStart(12)}\n`)
      p('  --------------- -------------------- ------------\n')
    }
    p('\ndone\n')
    process.stdout.write(out)
    return 0
  } finally {
    await end()
  }
}
