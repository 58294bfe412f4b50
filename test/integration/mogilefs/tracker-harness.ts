/**
 * Shared setup for the tracker integration tests: real `bin/mogstored` storage
 * nodes on 127.0.0.N (same port pair on every IP, as MogileFS wants one global
 * mgmt port), a real `bin/mogilefsd` child process on SQLite or a fresh MariaDB
 * database, and a minimal line client for the tracker protocol.
 */
import net from 'node:net'
import http from 'node:http'
import path from 'node:path'
import { mkdirSync, writeFileSync } from 'node:fs'
import knexPkg, { type Knex } from 'knex'
import { freePort, spawnDaemon, waitForPort, type Daemon } from '../../helpers/proc.js'
import { decodeArgs, encodeArgs } from '../../../src/personalities/mogilefs/protocol/args.js'

const { knex } = knexPkg as unknown as { knex: (c: Knex.Config) => Knex }

export type Backend = 'SQLite' | 'MariaDB'

async function portFreeOn(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, ip, () => s.close(() => resolve(true)))
  })
}

/** A port that is free on every given IP. */
export async function portOnAll(ips: string[]): Promise<number> {
  for (;;) {
    const p = await freePort(ips[0])
    let ok = true
    for (const ip of ips.slice(1)) if (!(await portFreeOn(ip, p))) ok = false
    if (ok) return p
  }
}

export interface Stores {
  ips: string[]
  httpPort: number
  mgmtPort: number
  roots: string[]
  daemons: Daemon[]
  start(i: number): Promise<void>
  stopAll(): Promise<void>
}

/** n storage nodes: node i on 127.0.0.(base+i) with device dev(i+1) under its docroot. */
export async function startStores(dir: string, n: number, base = 1): Promise<Stores> {
  const ips = Array.from({ length: n }, (_, i) => `127.0.0.${base + i}`)
  const httpPort = await portOnAll(ips)
  let mgmtPort = await portOnAll(ips)
  while (mgmtPort === httpPort) mgmtPort = await portOnAll(ips)
  const roots = ips.map((_, i) => path.join(dir, `store${i + 1}`))
  const st: Stores = {
    ips,
    httpPort,
    mgmtPort,
    roots,
    daemons: [],
    async start(i: number) {
      mkdirSync(path.join(roots[i], `dev${i + 1}`), { recursive: true })
      st.daemons[i] = spawnDaemon(`mogstored${i + 1}`, 'mogstored', [`--httplisten=${ips[i]}:${httpPort}`, `--mgmtlisten=${ips[i]}:${mgmtPort}`, `--docroot=${roots[i]}`], dir)
      await waitForPort(ips[i], httpPort)
    },
    async stopAll() {
      await Promise.all(st.daemons.filter(Boolean).map((d) => d.stop()))
    },
  }
  for (let i = 0; i < n; i++) await st.start(i)
  return st
}

export interface Db {
  dsn: string
  drop(): Promise<void>
}

/** SQLite file in `dir`, or a fresh MariaDB database `tandem_test_<random>` (dropped by `drop`). */
export async function makeDb(backend: Backend, dir: string): Promise<Db> {
  if (backend === 'SQLite') return { dsn: `DBI:SQLite:dbname=${path.join(dir, 'meta.db')}`, drop: async () => {} }
  const database = `tandem_test_${process.pid}_${Math.floor(Math.random() * 1e6)}`
  const root = knex({ client: 'mysql2', connection: { host: '127.0.0.1', port: 3306, user: 'root', password: '' }, pool: { min: 0, max: 1 } })
  await root.raw(`CREATE DATABASE \`${database}\``)
  return {
    dsn: `DBI:mysql:${database};host=127.0.0.1;port=3306`,
    drop: async () => {
      await root.raw(`DROP DATABASE IF EXISTS \`${database}\``)
      await root.destroy()
    },
  }
}

export interface TrackerProc {
  port: number
  daemon: Daemon
  confFile: string
  restart(): Promise<void>
}

export async function startTracker(dir: string, dsn: string, mgmtPort: number, extra = ''): Promise<TrackerProc> {
  const port = await freePort()
  const confFile = path.join(dir, 'mogilefsd.conf')
  writeFileSync(confFile, `db_dsn = ${dsn}\ndb_user = root\nlisten = 127.0.0.1:${port}\nmogstored_stream_port = ${mgmtPort}\nmonitor_interval = 0.5\n${extra}`)
  const t: TrackerProc = {
    port,
    confFile,
    daemon: spawnDaemon('mogilefsd', 'mogilefsd', ['-c', confFile], dir),
    async restart() {
      t.daemon = spawnDaemon('mogilefsd', 'mogilefsd', ['-c', confFile], dir)
      await waitForPort('127.0.0.1', port)
    },
  }
  await waitForPort('127.0.0.1', port)
  return t
}

/** Line client: sends raw lines, reads reply lines (latin1 byte strings). */
export class TrackerClient {
  private buf = ''
  private waiters: Array<(l: string | undefined) => void> = []
  private lines: string[] = []
  closed = false

  private constructor(readonly sock: net.Socket) {
    sock.setNoDelay(true)
    sock.on('data', (d) => {
      this.buf += d.toString('latin1')
      let i: number
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i + 1)
        this.buf = this.buf.slice(i + 1)
        const w = this.waiters.shift()
        if (w) w(line)
        else this.lines.push(line)
      }
    })
    sock.on('close', () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w(undefined)
    })
    sock.on('error', () => {})
  }

  static connect(port: number): Promise<TrackerClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new TrackerClient(s)))
      s.once('error', reject)
    })
  }

  /** Next reply line including its \r\n; undefined when the server closed. */
  readLine(): Promise<string | undefined> {
    const l = this.lines.shift()
    if (l !== undefined) return Promise.resolve(l)
    if (this.closed) return Promise.resolve(undefined)
    return new Promise((r) => this.waiters.push(r))
  }

  async raw(text: string): Promise<string | undefined> {
    this.sock.write(text, 'latin1')
    return this.readLine()
  }

  /** Send `cmd k=v&...` and parse the reply. */
  async cmd(name: string, args: Record<string, string | number> = {}): Promise<{ ok: boolean; args: Record<string, string>; code?: string; line: string }> {
    const line = (await this.raw(`${name} ${encodeArgs(args)}\r\n`)) ?? ''
    const m = /^OK (\S*)\r\n$/.exec(line)
    if (m) return { ok: true, args: decodeArgs(m[1]), line }
    const e = /^ERR (\w+) /.exec(line)
    return { ok: false, args: {}, code: e?.[1], line }
  }

  /** Like cmd but throws on ERR. */
  async ok(name: string, args: Record<string, string | number> = {}): Promise<Record<string, string>> {
    const r = await this.cmd(name, args)
    if (!r.ok) throw new Error(`${name} failed: ${r.line.trim()}`)
    return r.args
  }

  close(): void {
    this.sock.destroy()
  }
}

/** Poll `fn` until it returns a truthy value (no fixed sleeps in assertions; bounded by `ms`). */
export async function until<T>(fn: () => Promise<T | undefined | false>, ms = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** HTTP helper for PUT/GET/HEAD against storage nodes (PUT the way MogileFS::Client does: HTTP/1.0, Content-length). */
export function httpReq(method: string, url: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: body ? { 'Content-Length': String(body.length) } : {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Register hosts/devices/domain/classes over the protocol and wait until every device is writeable. */
export async function setupCluster(c: TrackerClient, st: Stores, classes: Record<string, number> = { one: 1, two: 2 }): Promise<void> {
  await c.ok('create_domain', { domain: 'testdom' })
  for (const [cls, min] of Object.entries(classes)) await c.ok('create_class', { domain: 'testdom', class: cls, mindevcount: min })
  for (let i = 0; i < st.ips.length; i++) {
    await c.ok('create_host', { host: `store${i + 1}`, ip: st.ips[i], port: st.httpPort, status: 'alive' })
    await c.ok('create_device', { hostname: `store${i + 1}`, devid: i + 1, state: 'alive' })
  }
  await until(async () => {
    const d = await c.ok('get_devices')
    return Array.from({ length: Number(d.devices) }, (_, i) => d[`dev${i + 1}_observed_state`]).every((s) => s === 'writeable') && Number(d.devices) === st.ips.length
  }, 20_000, 'devices writeable')
}

/** create_open → PUT (first reachable dest) → create_close; returns fid and the close reply. */
export async function store(c: TrackerClient, key: string, data: Buffer, cls = 'two', closeExtra: Record<string, string | number> = {}) {
  const o = await c.ok('create_open', { domain: 'testdom', key, class: cls, fid: 0, multi_dest: 1 })
  let devid = ''
  let p = ''
  for (let i = 1; i <= Number(o.dev_count); i++) {
    const r = await httpReq('PUT', o[`path_${i}`], data).catch(() => undefined)
    if (r && r.status >= 200 && r.status < 300) {
      devid = o[`devid_${i}`]
      p = o[`path_${i}`]
      break
    }
  }
  const close = await c.cmd('create_close', { domain: 'testdom', fid: o.fid, devid, path: p, key, size: data.length, ...closeExtra })
  return { fid: Number(o.fid), open: o, close, devid: Number(devid), path: p }
}
