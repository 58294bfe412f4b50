/**
 * Seeded wire fuzzing of every listener of a real deployment (child
 * processes, SQLite, temp dir): the FastDFS tracker and storage get framed
 * packets with random commands, lying lengths (negative, huge, short, long)
 * and mutated bodies (bad groups, `..` names, overlong extensions); the
 * MogileFS tracker gets pipelined lines with random commands, SQL
 * metacharacters, `%` garbage, NUL, non-UTF-8 and 10 KB values; mogstored gets
 * random methods, traversal paths and broken Content-Length / Range / chunked
 * headers, and so does the FastDFS storage's built-in HTTP front (anti-steal
 * tokens on: forged, empty and absurd tokens). Connections are cut at random
 * points.
 *
 * Asserted: every daemon stays up and keeps answering a well-formed request,
 * no daemon logs an error or a fatal (malformed input is a warning at most),
 * and nothing is written outside the deployment's data directory.
 * The seed is fixed so a failure reproduces; FUZZ_ITERS raises the count.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, type Cluster } from '../../../src/deploy/local-cluster.js'
import { freePort, tmpDir } from '../../helpers/proc.js'

const ITERS = Number(process.env.FUZZ_ITERS ?? 300)

/** xorshift32: deterministic, so a failing run replays exactly. */
function rng(seed: number) {
  let s = seed >>> 0 || 1
  const next = () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(a: T[]): T => a[int(a.length)]
  const bytes = (n: number) => {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = int(256)
    return b
  }
  return { int, pick, bytes }
}

const hp = (s: string) => {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}
const field = (s: string, w: number) => {
  const b = Buffer.alloc(w)
  b.write(s, 'latin1')
  return b
}
const long = (n: number) => {
  const b = Buffer.alloc(8)
  b.writeBigInt64BE(BigInt(n))
  return b
}

const FDFS_NAMES = [
  'M00/00/00/fwAAAWsWKbGAc6zBAAST4P1LSqs564.bin',
  'M00/../../etc/passwd',
  'M00/00/00/../../x',
  'M99/00/00/abc',
  'M00/00/00/' + 'A'.repeat(300),
  '../x',
  'M00/FF/FF/wKgAAWsWKbGAc6zBAAST4P1LSqs564.bin-m',
  'M00/00/00/fwAAAWsWKbGAc6zBAAST4P1LSqs564_big.bin',
  '',
]
const STORAGE_CMDS = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 34, 35, 36, 37, 38, 40, 111, 82, 83]
const TRACKER_CMDS = [90, 91, 92, 101, 102, 103, 104, 105, 106, 107, 111, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89]
const MOG_CMDS = ['create_open', 'create_close', 'get_paths', 'delete', 'rename', 'updateclass', 'file_info', 'file_debug', 'list_keys', 'list_fids', 'get_domains', 'create_domain', 'delete_domain', 'create_class', 'update_class', 'delete_class', 'get_hosts', 'get_devices', 'server_setting', 'server_settings', 'replicate_now', 'fsck_status', 'fsck_log_rows', 'rebalance_status', 'noop', '!version', '!stats', '!jobs', 'bogus']
const MOG_KEYS = ['domain', 'key', 'class', 'fid', 'devid', 'path', 'size', 'checksum', 'from_key', 'to_key', 'prefix', 'after', 'limit', 'from', 'to', 'multi_dest', 'noverify', 'pathcount', 'mindevcount', 'replpolicy', 'hashtype', 'callid']
const MOG_VALS = ['tandem', 'two', '1', '0', '-1', '99999999999999999999', '%', '%zz', '%00', '%0a', 'a%20b', '../x', "'%3B DROP TABLE file%3B --", 'x'.repeat(10_000), '%ff%fe', 'http://127.0.0.1:1/dev1/0/000/000/0000000001.fid', 'MD5:00', 'NaN', '', '=', '&']
const FDFS_HTTP_PATHS = [
  '/group1/M00/00/00/fwAAAWsWKbGAc6zBAAST4P1LSqs564.bin',
  '/group1/M00/00/00/fwAAAWsWKbGAc6zBAAST4P1LSqs564.bin?token=abc&ts=1',
  '/group1/M00/00/00/fwAAAWsWKbGAc6zBAAST4P1LSqs564.bin?token=&ts=99999999999999999999',
  '/group1/M00/../../../etc/passwd',
  '/group1/M00/%2e%2e/%2e%2e/escape.fid',
  '/group2/M00/00/00/x.bin',
  '/group1/M99/00/00/x',
  '/group1/M00/00/00/' + 'A'.repeat(3000),
  '/',
  '/group1/M00/00/00/%ff%fe.bin',
]
const HTTP_PATHS = ['/dev1/0/000/000/0000000001.fid', '/dev1/../../etc/passwd', '/dev1/%2e%2e/%2e%2e/escape.fid', '/dev1/0/000/000/..%2f..%2fx.fid', '/dev99/x', '//dev1//x', '/dev1/' + 'a'.repeat(5000), '/dev1/a%00b', '/', '/dev1/0/000/000/x.fid?a=b', '/%ff%fe']

type R = ReturnType<typeof rng>

function fdfsBody(r: R): Buffer {
  switch (r.int(6)) {
    case 0:
      return r.bytes(r.int(64))
    case 1:
      return Buffer.concat([field(r.pick(['group1', 'group2', '', 'g'.repeat(16)]), 16), Buffer.from(r.pick(FDFS_NAMES), 'latin1')])
    case 2:
      return Buffer.concat([long(r.int(3) ? r.int(100) : -5), long(r.int(3) ? r.int(100) : 2 ** 40), field('group1', 16), Buffer.from(r.pick(FDFS_NAMES), 'latin1')])
    case 3:
      return Buffer.concat([Buffer.from([r.int(3)]), long(r.int(50)), field(r.pick(['bin', 'jpg', '', '../..', 'toolong']), 6), r.bytes(r.int(50))])
    case 4:
      return Buffer.concat([long(r.int(30)), long(r.int(30)), field('group1', 16), Buffer.from(r.pick(FDFS_NAMES), 'latin1'), r.bytes(r.int(40))])
    default:
      return Buffer.concat([long(8), long(r.int(2) ? 20 : 500), field('group1', 16), Buffer.from('M00/00/00/x'), r.bytes(r.int(30))])
  }
}

/** Open, write, maybe half-close, and drop the connection after a short random time. */
function shoot(addr: string, r: R, payload: () => Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(hp(addr))
    let done = false
    const end = () => {
      if (done) return
      done = true
      s.destroy()
      resolve()
    }
    s.setTimeout(2000, end)
    s.on('error', end)
    s.on('close', end)
    s.on('data', () => {})
    s.on('connect', () => {
      s.write(payload())
      if (r.int(3) === 0) s.end()
      setTimeout(end, 10 + r.int(40))
    })
  })
}

function fdfsPackets(r: R, cmds: number[]): Buffer {
  const out: Buffer[] = []
  for (let i = 1 + r.int(3); i > 0; i--) {
    const body = fdfsBody(r)
    const m = r.int(8)
    const len = m === 0 ? -1 : m === 1 ? 2 ** 50 : m === 2 ? body.length + r.int(20) : m === 3 ? Math.max(0, body.length - r.int(10)) : body.length
    const h = Buffer.alloc(10)
    h.writeBigInt64BE(BigInt(len))
    h[8] = r.int(4) ? r.pick(cmds) : r.int(256)
    h[9] = r.int(4) ? 0 : r.int(256)
    out.push(h, body)
  }
  return Buffer.concat(out)
}

function mogLines(r: R): Buffer {
  let out = ''
  for (let i = 1 + r.int(4); i > 0; i--) {
    if (r.int(10) === 0) {
      out += r.bytes(r.int(200)).toString('latin1').replace(/[\r\n]/g, '') + '\r\n'
      continue
    }
    const args: string[] = []
    for (let j = r.int(6); j > 0; j--) args.push(`${r.pick(MOG_KEYS)}=${r.pick(MOG_VALS)}`)
    out += `${r.pick(MOG_CMDS)} ${args.join('&')}${r.pick(['\r\n', '\n', ' \r\n'])}`
  }
  return Buffer.from(out, 'latin1')
}

function httpRequest(r: R, paths = HTTP_PATHS): Buffer {
  const method = r.pick(['GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'MOVE', 'POST', 'XYZ', 'GET'])
  const body = r.bytes(r.int(100))
  const headers = [
    r.pick([`Content-Length: ${body.length}`, 'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Transfer-Encoding: chunked', `Content-Length: ${body.length + 10}`, '']),
    r.pick(['Range: bytes=0-10', 'Range: bytes=-5', 'Range: bytes=999999-', 'Range: garbage', '']),
    r.pick(['Content-MD5: xxx', '']),
  ].filter(Boolean)
  const head = `${method} ${r.pick(paths)} HTTP/1.${r.int(2)}\r\nHost: x\r\n${headers.map((h) => h + '\r\n').join('')}\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), method === 'PUT' || r.int(3) === 0 ? (r.int(4) ? body : r.bytes(r.int(300))) : Buffer.alloc(0)])
}

/** One request/reply on a fresh connection; resolves with the first reply bytes (or empty on failure). */
function ask(addr: string, req: Buffer | string): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(hp(addr))
    const chunks: Buffer[] = []
    s.setTimeout(5000, () => {
      s.destroy()
      resolve(Buffer.concat(chunks))
    })
    s.on('error', () => resolve(Buffer.concat(chunks)))
    s.on('connect', () => s.write(req))
    s.on('data', (d) => {
      chunks.push(d)
      s.destroy()
      resolve(Buffer.concat(chunks))
    })
  })
}

const ACTIVE_TEST = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 111, 0])
const ALL_UP = { fdfs_trackerd: true, fdfs_storaged: true, fdfs_http: true, mogilefsd: true, mogstored: true }

async function allAnswer(c: Cluster): Promise<Record<string, boolean>> {
  const mog = c.mogilefs!
  const active = (b: Buffer) => b.length >= 10 && b[8] === 100 && b[9] === 0
  const out: Record<string, boolean> = {}
  if (c.fastdfs) {
    out.fdfs_trackerd = active(await ask(c.fastdfs.tracker, ACTIVE_TEST))
    out.fdfs_storaged = active(await ask(c.fastdfs.storages[0], ACTIVE_TEST))
    out.fdfs_http = (await ask(`127.0.0.1:${fdfsHttpPort}`, 'HEAD / HTTP/1.0\r\n\r\n')).toString().startsWith('HTTP/1.')
  }
  out.mogilefsd = (await ask(mog.tracker, 'noop\r\n')).toString().startsWith('OK')
  out.mogstored = (await ask(mog.stores[0], 'HEAD /dev1/usage HTTP/1.0\r\n\r\n')).toString().startsWith('HTTP/1.')
  return out
}

/** Every daemon still running, nothing logged above warn. */
function checkLogs(c: Cluster): void {
  for (const p of c.procs) {
    expect(p.child.exitCode, `${p.name} exited`).toBeNull()
    const bad = readFileSync(p.logFile, 'utf8')
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l))
    expect(bad, `${p.name} logged errors`).toEqual([])
  }
}

/** Every file under `dir`, relative. */
function walk(dir: string, base = dir, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = path.join(dir, n)
    if (statSync(p).isDirectory()) walk(p, base, out)
    else out.push(path.relative(base, p))
  }
  return out
}

let root: string
let c: Cluster
let fdfsHttpPort = 0

beforeAll(async () => {
  root = tmpDir('wire-fuzz')
  fdfsHttpPort = await freePort()
  // The storages' built-in HTTP front, with anti-steal tokens on, is fuzzed too.
  c = await startCluster({
    dir: path.join(root, 'cluster'),
    anyPorts: true,
    storageConfExtra: `http.server_port = ${fdfsHttpPort}\nhttp.anti_steal.check_token = true\nhttp.anti_steal.secret_key = fuzz-secret\nhttp.anti_steal.token_ttl = 60`,
  })
}, 60_000)

afterAll(async () => {
  await c?.stop()
  rmSync(root, { recursive: true, force: true })
})

describe('wire fuzzing (seeded)', () => {
  it(`${ITERS} rounds of malformed traffic to all five listeners: all keep answering, nothing logged above warn, nothing written outside the data dir`, { timeout: 300_000 }, async () => {
    const r = rng(20261207)
    const fd = c.fastdfs!
    const mog = c.mogilefs!
    expect(await allAnswer(c)).toEqual(ALL_UP)
    for (let i = 0; i < ITERS; i++) {
      await Promise.all([
        shoot(fd.storages[0], r, () => fdfsPackets(r, STORAGE_CMDS)),
        shoot(fd.tracker, r, () => fdfsPackets(r, TRACKER_CMDS)),
        shoot(mog.tracker, r, () => mogLines(r)),
        shoot(mog.stores[0], r, () => httpRequest(r)),
        shoot(`127.0.0.1:${fdfsHttpPort}`, r, () => httpRequest(r, FDFS_HTTP_PATHS)),
      ])
      if (i % 100 === 99) expect(await allAnswer(c), `after round ${i + 1}`).toEqual(ALL_UP)
    }
    expect(await allAnswer(c)).toEqual(ALL_UP)
    checkLogs(c)
    // The deployment writes only under its own directory, and `..` tricks reach nothing: the
    // traversal targets (escape.fid, passwd) exist nowhere, inside the cluster dir or above it.
    const files = walk(root)
    expect(files.every((f) => f.startsWith('cluster' + path.sep))).toBe(true)
    expect(files.filter((f) => /(^|\/)(escape\.fid|passwd)$/.test(f))).toEqual([])
    expect(readdirSync(path.dirname(root)).filter((n) => n === 'escape.fid' || n === 'passwd')).toEqual([])
  })
})

/**
 * The same MogileFS traffic against a tracker on MariaDB (127.0.0.1:3306, a
 * fresh database dropped afterwards): SQL metacharacters, `%` and NUL reach
 * MySQL's code paths as values, never as SQL.
 */
describe('wire fuzzing, MogileFS on MariaDB (seeded)', () => {
  let mroot: string
  let m: Cluster
  const db = `tandem_fuzz_${process.pid}_${Date.now().toString(36)}`
  const url = `mysql://root@127.0.0.1:3306/${db}`

  beforeAll(async () => {
    mroot = tmpDir('wire-fuzz-mysql')
    m = await startCluster({ dir: path.join(mroot, 'cluster'), anyPorts: true, personalities: ['mogilefs'], mysql: url })
  }, 60_000)

  afterAll(async () => {
    await m?.stop()
    const mysql = await import('mysql2/promise')
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' })
    await conn.query(`DROP DATABASE IF EXISTS \`${db}\``)
    await conn.end()
    rmSync(mroot, { recursive: true, force: true })
  })

  it(`${ITERS} rounds to mogilefsd and mogstored: both keep answering and log nothing above warn; the schema is intact`, { timeout: 300_000 }, async () => {
    const r = rng(7_0012_07)
    const mog = m.mogilefs!
    for (let i = 0; i < ITERS; i++) {
      await Promise.all([shoot(mog.tracker, r, () => mogLines(r)), shoot(mog.tracker, r, () => mogLines(r)), shoot(mog.stores[0], r, () => httpRequest(r))])
      if (i % 100 === 99) expect(await allAnswer(m), `after round ${i + 1}`).toEqual({ mogilefsd: true, mogstored: true })
    }
    expect(await allAnswer(m)).toEqual({ mogilefsd: true, mogstored: true })
    checkLogs(m)
    // "DROP TABLE file" arrived as a value many times: the tables are all still there.
    const mysql = await import('mysql2/promise')
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: db })
    const [rows] = await conn.query('SHOW TABLES')
    await conn.end()
    const tables = (rows as Array<Record<string, string>>).map((t) => Object.values(t)[0])
    for (const t of ['file', 'tempfile', 'file_on', 'domain', 'class', 'host', 'device', 'file_to_replicate']) expect(tables).toContain(t)
  })
})
