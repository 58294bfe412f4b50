/**
 * An all-in-one local deployment of both personalities, as real child processes
 * on loopback, under one data dir. Used by `tandem up` / `npm start` and by the
 * compare harness.
 *
 *   FastDFS:  tracker 127.0.0.1:22122, storages 127.0.0.1:23000 and 127.0.0.2:23000 (group1)
 *   MogileFS: tracker 127.0.0.1:7001 (SQLite, or MySQL with --mysql),
 *             mogstored 127.0.0.1:7500/7501 (dev1) and 127.0.0.2:7500/7501 (dev2),
 *             domain `tandem`, class `two` (mindevcount 2)
 *
 * Two storage hosts per personality need two addresses, because both originals
 * identify a storage host by IP (MogileFS: UNIQUE host.hostip and one global
 * mgmt port). Standard ports are used when free on every address; otherwise a
 * free port is picked and reported.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { logger } from '../log.js'
import { decodeArgs, encodeArgs } from '../personalities/mogilefs/protocol/args.js'
import { ConnectionPool } from '../personalities/fastdfs/client/connection.js'
import { TrackerClient } from '../personalities/fastdfs/client/tracker-client.js'
import { STORAGE_STATUS } from '../personalities/fastdfs/protocol/constants.js'
import { daemonNodeFlags } from '../server/node-flags.js'

const log = logger('deploy.local')

export const BIN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin')

export interface ClusterOptions {
  dir: string
  /** `mysql://user:pass@host:port/db` for the MogileFS tracker; default SQLite in the data dir. */
  mysql?: string
  /** Pick free ports instead of the standard ones (tests, parallel runs). */
  anyPorts?: boolean
  personalities?: Array<'fastdfs' | 'mogilefs'>
  /** Extra lines appended to each storage.conf (e.g. http.server_port). */
  storageConfExtra?: string
}

export interface Proc {
  name: string
  child: ChildProcess
  logFile: string
  /** Port of its /metrics listener (every daemon gets one). */
  metricsPort?: number
}

export interface Cluster {
  dir: string
  fastdfs?: { tracker: string; storages: string[]; clientConf: string; group: string }
  mogilefs?: { tracker: string; domain: string; klass: string; stores: string[]; db: string }
  procs: Proc[]
  notes: string[]
  pids(): Map<string, number>
  stop(): Promise<void>
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)))
  })
}

async function anyFreePort(hosts: string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await new Promise<number>((resolve, reject) => {
      const s = net.createServer()
      s.once('error', reject)
      s.listen(0, hosts[0], () => {
        const port = (s.address() as net.AddressInfo).port
        s.close(() => resolve(port))
      })
    })
    if ((await Promise.all(hosts.map((h) => portFree(h, p)))).every(Boolean)) return p
  }
  throw new Error('no free port found')
}

async function choosePort(want: number, hosts: string[], anyPorts: boolean, notes: string[], what: string): Promise<number> {
  if (!anyPorts && (await Promise.all(hosts.map((h) => portFree(h, want)))).every(Boolean)) return want
  const p = await anyFreePort(hosts)
  if (!anyPorts) notes.push(`${what}: port ${want} is taken, using ${p}`)
  return p
}

async function waitPort(host: string, port: number, proc: Proc, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited with ${proc.child.exitCode}; see ${proc.logFile}`)
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host, port }, () => {
        s.destroy()
        r(true)
      })
      s.once('error', () => r(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`${proc.name} not listening on ${host}:${port} after ${ms} ms; see ${proc.logFile}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function startProc(dir: string, name: string, cmd: string, args: string[], metricsPorts?: Record<string, number>): Proc {
  const logDir = path.join(dir, 'logs')
  mkdirSync(logDir, { recursive: true })
  const logFile = path.join(logDir, `${name}.log`)
  const fd = openSync(logFile, 'a')
  const child = spawn(process.execPath, [...daemonNodeFlags(), path.join(BIN_DIR, cmd), ...args], { stdio: ['ignore', fd, fd], env: { ...process.env } })
  closeSync(fd)
  return { name, child, logFile, metricsPort: metricsPorts?.[name] }
}

/** Send one MogileFS tracker command; resolves with the OK args or rejects with the ERR code. */
export async function mogCommand(addr: string, cmd: string, args: Record<string, string | number>): Promise<Record<string, string>> {
  const [host, port] = addr.split(':')
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) })
    let buf = ''
    // Why 10 s: a fresh tracker may still be migrating its schema.
    s.setTimeout(10_000, () => s.destroy(new Error(`timeout talking to ${addr}`)))
    s.on('connect', () => s.write(`${cmd} ${encodeArgs(args)}\r\n`))
    s.on('data', (d) => {
      buf += d.toString('latin1')
      const i = buf.indexOf('\n')
      if (i < 0) return
      const line = buf.slice(0, i).trim()
      s.end()
      if (line.startsWith('OK')) resolve(decodeArgs(line.slice(3).trim()))
      else reject(Object.assign(new Error(line), { code: line.split(' ')[1] }))
    })
    s.on('error', reject)
  })
}

async function mogEnsure(addr: string, cmd: string, args: Record<string, string | number>, okCodes: string[]): Promise<void> {
  try {
    await mogCommand(addr, cmd, args)
  } catch (e) {
    if (!okCodes.includes((e as { code?: string }).code ?? '')) throw e
  }
}

/**
 * Wait until `count` storages of `group` are ACTIVE on the tracker. Why: a
 * second storage joins through WAIT_SYNC and is ACTIVE about a second later;
 * uploads made before that all land on the first one (and stay readable only
 * there for storage_sync_file_max_time), which would skew whatever runs next.
 * Why 60 s: joining includes the initial (empty) sync and two beats.
 */
async function waitStoragesActive(tracker: string, group: string, count: number, ms = 60_000): Promise<void> {
  const [host, port] = tracker.split(':')
  const pool = new ConnectionPool({ connectMs: 5_000, networkMs: 10_000 })
  const tc = new TrackerClient([{ host, port: Number(port) }], pool)
  const deadline = Date.now() + ms
  try {
    for (;;) {
      const list = await tc.listStorages(group).catch(() => [])
      const active = list.filter((s) => s.status === STORAGE_STATUS.ACTIVE).length
      if (active >= count) return
      if (Date.now() > deadline) throw new Error(`FastDFS storages not ACTIVE after ${ms} ms (${active}/${count})`)
      await new Promise((res) => setTimeout(res, 100))
    }
  } finally {
    pool.close()
  }
}

/**
 * Wait until the tracker's monitor has seen `count` devices writeable: until
 * then create_open answers no_devices, as the original does after a start.
 * Why 60 s: the first monitor round includes a write test on every device.
 */
async function waitDevicesWriteable(tracker: string, count: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const r = await mogCommand(tracker, 'get_devices', {}).catch(() => ({}) as Record<string, string>)
    const n = Number(r.devices ?? 0)
    let ok = 0
    for (let i = 1; i <= n; i++) if (r[`dev${i}_observed_state`] === 'writeable' && r[`dev${i}_status`] === 'alive') ok++
    if (ok >= count) return
    if (Date.now() > deadline) throw new Error(`MogileFS devices not writeable after ${ms} ms (${ok}/${count})`)
    await new Promise((res) => setTimeout(res, 100))
  }
}

function mysqlDsn(url: string): { dsn: string; user: string; pass: string; db: string; host: string; port: number } {
  const u = new URL(url)
  const db = u.pathname.replace(/^\//, '') || 'tandem'
  const host = u.hostname || '127.0.0.1'
  const port = Number(u.port || 3306)
  return { dsn: `DBI:mysql:${db};host=${host};port=${port}`, user: decodeURIComponent(u.username || 'root'), pass: decodeURIComponent(u.password), db, host, port }
}

/** Clusters started by this process and not stopped yet (for stopClustersOnSignal). */
const live = new Set<Cluster>()
let signalsInstalled = false

/**
 * For CLI entry points that start clusters (tandem compare, tandem sync-cost):
 * on SIGINT/SIGTERM, stop every cluster this process started, then exit
 * 128 + signal number, so an interrupted benchmark never leaves daemons behind.
 * Not for tests or library use (it exits the process).
 */
export function stopClustersOnSignal(): void {
  if (signalsInstalled) return
  signalsInstalled = true
  const onSignal = (sig: NodeJS.Signals, code: number) => {
    log.warn({ signal: sig, clusters: live.size }, 'interrupted: stopping the clusters started here')
    void Promise.all([...live].map((c) => c.stop().catch(() => {}))).finally(() => process.exit(code))
  }
  process.once('SIGINT', () => onSignal('SIGINT', 130))
  process.once('SIGTERM', () => onSignal('SIGTERM', 143))
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const dir = path.resolve(o.dir)
  const want = new Set(o.personalities ?? ['fastdfs', 'mogilefs'])
  const anyPorts = o.anyPorts ?? false
  const notes: string[] = []
  const procs: Proc[] = []
  /** metrics_port per daemon name, filled as confs are written. */
  const mp: Record<string, number> = {}
  const cluster: Cluster = {
    dir,
    procs,
    notes,
    pids: () => new Map(procs.filter((p) => p.child.pid).map((p) => [p.name, p.child.pid!])),
    stop: async () => {
      live.delete(cluster)
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve()
              // Why 15 s: daemons finish in-flight uploads on SIGTERM before exiting.
              const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000)
              p.child.once('exit', () => {
                clearTimeout(t)
                resolve()
              })
              // SIGCONT first: a daemon paused with SIGSTOP (tandem sync-cost does that) would not
              // act on SIGTERM until resumed.
              p.child.kill('SIGCONT')
              p.child.kill('SIGTERM')
            }),
        ),
      )
    },
  }
  live.add(cluster)
  try {
    if (want.has('fastdfs')) {
      const base = path.join(dir, 'fastdfs')
      const tPort = await choosePort(22122, ['127.0.0.1'], anyPorts, notes, 'FastDFS tracker')
      const sPort = await choosePort(23000, ['127.0.0.1', '127.0.0.2'], anyPorts, notes, 'FastDFS storage')
      const tracker = `127.0.0.1:${tPort}`
      mkdirSync(path.join(base, 'tracker'), { recursive: true })
      const trackerConf = path.join(base, 'tracker.conf')
      writeFileSync(
        trackerConf,
        [`# written by tandem up`, `bind_addr = 127.0.0.1`, `port = ${tPort}`, `base_path = ${path.join(base, 'tracker')}`, `reserved_storage_space = 1%`, `store_lookup = 2`, `store_server = 0`, `download_server = 0`, `metrics_port = ${(mp.fdfs_trackerd = await anyFreePort(['127.0.0.1']))}`, ''].join('\n'),
      )
      const tp = startProc(dir, 'fdfs_trackerd', 'fdfs_trackerd', [trackerConf, '--foreground'], mp)
      procs.push(tp)
      await waitPort('127.0.0.1', tPort, tp)
      const storages: string[] = []
      for (const [i, ip] of ['127.0.0.1', '127.0.0.2'].entries()) {
        const sbase = path.join(base, `storage${i + 1}`)
        mkdirSync(sbase, { recursive: true })
        const conf = path.join(base, `storage${i + 1}.conf`)
        writeFileSync(
          conf,
          [
            `# written by tandem up`,
            `group_name = group1`,
            `bind_addr = ${ip}`,
            `port = ${sPort}`,
            `base_path = ${sbase}`,
            `store_path_count = 1`,
            `store_path0 = ${sbase}`,
            `tracker_server = ${tracker}`,
            // Why 2 s: peers and state changes propagate through heartbeats; the
            // original default of 30 s makes a fresh cluster slow to converge.
            `heart_beat_interval = 2`,
            `stat_report_interval = 10`,
            `metrics_port = ${(mp[`fdfs_storaged${i + 1}`] = await anyFreePort(['127.0.0.1']))}`,
            o.storageConfExtra ?? '',
            '',
          ].join('\n'),
        )
        const sp = startProc(dir, `fdfs_storaged${i + 1}`, 'fdfs_storaged', [conf, '--foreground'], mp)
        procs.push(sp)
        await waitPort(ip, sPort, sp)
        storages.push(`${ip}:${sPort}`)
      }
      const clientConf = path.join(base, 'client.conf')
      mkdirSync(path.join(base, 'client'), { recursive: true })
      writeFileSync(clientConf, [`base_path = ${path.join(base, 'client')}`, `tracker_server = ${tracker}`, `connect_timeout = 5`, `network_timeout = 60`, ''].join('\n'))
      await waitStoragesActive(tracker, 'group1', storages.length)
      cluster.fastdfs = { tracker, storages, clientConf, group: 'group1' }
    }

    if (want.has('mogilefs')) {
      const base = path.join(dir, 'mogilefs')
      mkdirSync(base, { recursive: true })
      const tPort = await choosePort(7001, ['127.0.0.1'], anyPorts, notes, 'MogileFS tracker')
      const hPort = await choosePort(7500, ['127.0.0.1', '127.0.0.2'], anyPorts, notes, 'mogstored HTTP')
      let mPort = await choosePort(7501, ['127.0.0.1', '127.0.0.2'], anyPorts, notes, 'mogstored mgmt')
      if (mPort === hPort) mPort = await anyFreePort(['127.0.0.1', '127.0.0.2'])
      let dbLines: string[]
      let dbDesc: string
      if (o.mysql) {
        const m = mysqlDsn(o.mysql)
        const mysql = await import('mysql2/promise')
        const conn = await mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.pass })
        await conn.query(`CREATE DATABASE IF NOT EXISTS \`${m.db.replace(/`/g, '')}\``)
        await conn.end()
        dbLines = [`db_dsn = ${m.dsn}`, `db_user = ${m.user}`, `db_pass = ${m.pass}`]
        dbDesc = `MySQL ${m.host}:${m.port}/${m.db}`
      } else {
        const file = path.join(base, 'mogilefs.sqlite')
        dbLines = [`db_dsn = DBI:SQLite:dbname=${file}`]
        dbDesc = `SQLite ${file}`
      }
      const stores: string[] = []
      for (const [i, ip] of ['127.0.0.1', '127.0.0.2'].entries()) {
        const docroot = path.join(base, `store${i + 1}`)
        mkdirSync(path.join(docroot, `dev${i + 1}`), { recursive: true })
        const conf = path.join(base, `mogstored${i + 1}.conf`)
        writeFileSync(conf, [`# written by tandem up`, `httplisten = ${ip}:${hPort}`, `mgmtlisten = ${ip}:${mPort}`, `docroot = ${docroot}`, `metrics_port = ${(mp[`mogstored${i + 1}`] = await anyFreePort(['127.0.0.1']))}`, ''].join('\n'))
        const sp = startProc(dir, `mogstored${i + 1}`, 'mogstored', ['--config', conf], mp)
        procs.push(sp)
        await waitPort(ip, hPort, sp)
        stores.push(`${ip}:${hPort}`)
      }
      const conf = path.join(base, 'mogilefsd.conf')
      writeFileSync(conf, [`# written by tandem up`, ...dbLines, `listen = 127.0.0.1:${tPort}`, `mogstored_stream_port = ${mPort}`, `query_jobs = 10`, `replicate_jobs = 2`, `default_mindevcount = 2`, `metrics_port = ${(mp.mogilefsd = await anyFreePort(['127.0.0.1']))}`, ''].join('\n'))
      const tp = startProc(dir, 'mogilefsd', 'mogilefsd', ['--config', conf], mp)
      procs.push(tp)
      await waitPort('127.0.0.1', tPort, tp, 60_000)
      const tracker = `127.0.0.1:${tPort}`
      await mogEnsure(tracker, 'create_domain', { domain: 'tandem' }, ['domain_exists'])
      await mogEnsure(tracker, 'create_class', { domain: 'tandem', class: 'two', mindevcount: 2 }, ['class_exists'])
      for (const [i, ip] of ['127.0.0.1', '127.0.0.2'].entries()) {
        // A database kept from an earlier run may know this host on another port: update it.
        try {
          await mogCommand(tracker, 'create_host', { host: `store${i + 1}`, ip, port: hPort, status: 'alive' })
        } catch (e) {
          if ((e as { code?: string }).code !== 'host_exists') throw e
          await mogCommand(tracker, 'update_host', { host: `store${i + 1}`, ip, port: hPort, status: 'alive' })
        }
        await mogEnsure(tracker, 'create_device', { hostname: `store${i + 1}`, devid: i + 1, state: 'alive' }, ['existing_devid'])
      }
      await waitDevicesWriteable(tracker, 2)
      const mconf = path.join(base, 'mogilefs.conf')
      writeFileSync(mconf, [`trackers = ${tracker}`, `domain = tandem`, `class = two`, ''].join('\n'))
      cluster.mogilefs = { tracker, domain: 'tandem', klass: 'two', stores, db: dbDesc }
    }
  } catch (e) {
    log.error({ err: e }, 'deployment failed; stopping what was started')
    await cluster.stop()
    throw e
  }
  return cluster
}
