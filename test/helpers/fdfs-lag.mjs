#!/usr/bin/env node
// Replication lag of our FastDFS storages (issue 4 "Measure"; not a test).
// Boots a tracker + 2 storages (127.0.0.2/127.0.0.3, MODE ip) from bin/ (run
// `npx tsc -p tsconfig.json` first), uploads N files of SIZE bytes to A with
// 20-60 ms random gaps, and measures upload reply -> B answers QUERY_FILE_INFO
// (22) with status 0. The polling connection announces itself as a peer
// storage (REPORT_SERVER_ID), so B never proxies it: the answer means B has
// the file on disk.
//   node test/helpers/fdfs-lag.mjs [count=200] [size=4096]
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const count = Number(process.argv[2] ?? 200)
const size = Number(process.argv[3] ?? 4096)

function freePort() {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => res(p))
    })
  })
}
async function waitPort(host, port) {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect({ host, port }, () => (s.destroy(), r(true)))
      s.on('error', () => r(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`nothing on ${host}:${port}`)
}
function daemon(dir, name, bin, conf) {
  const fd = openSync(path.join(dir, `${name}.out`), 'a')
  return spawn(process.execPath, [path.join(ROOT, 'bin', bin), conf, '--foreground'], { stdio: ['ignore', fd, fd], env: { ...process.env, TANDEM_LOG_LEVEL: 'warn' } })
}

class Conn {
  constructor(sock) {
    this.sock = sock
    this.buf = Buffer.alloc(0)
    this.wait = null
    sock.setNoDelay(true)
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      this.wait?.()
    })
  }
  static open(host, port) {
    return new Promise((res, rej) => {
      const s = net.connect({ host, port }, () => res(new Conn(s)))
      s.on('error', rej)
    })
  }
  async call(cmd, body, status = 0) {
    const h = Buffer.alloc(10)
    h.writeBigInt64BE(BigInt(body.length))
    h[8] = cmd
    h[9] = status
    this.sock.write(Buffer.concat([h, body]))
    for (;;) {
      if (this.buf.length >= 10) {
        const len = Number(this.buf.readBigInt64BE(0))
        if (this.buf.length >= 10 + len) {
          const st = this.buf[9]
          const b = this.buf.subarray(10, 10 + len)
          this.buf = this.buf.subarray(10 + len)
          return { status: st, body: b }
        }
      }
      await new Promise((r) => (this.wait = r))
    }
  }
}
const fixed = (s, n) => {
  const b = Buffer.alloc(n)
  b.write(s)
  return b
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'fdfs-lag-'))
const tport = await freePort()
const sport = await freePort()
mkdirSync(path.join(dir, 't'), { recursive: true })
writeFileSync(path.join(dir, 't', 'tracker.conf'), `base_path = ${dir}/t\nbind_addr = 127.0.0.1\nport = ${tport}\nreserved_storage_space = 1%\n`)
const procs = [daemon(path.join(dir, 't'), 'trackerd', 'fdfs_trackerd', path.join(dir, 't', 'tracker.conf'))]
await waitPort('127.0.0.1', tport)
for (const ip of ['127.0.0.2', '127.0.0.3']) {
  const d = path.join(dir, ip)
  mkdirSync(d)
  writeFileSync(path.join(d, 'storage.conf'), `group_name = group1\nbind_addr = ${ip}\nport = ${sport}\nbase_path = ${d}\nstore_path0 = ${d}/store0\ntracker_server = 127.0.0.1:${tport}\nheart_beat_interval = 1\nsubdir_count_per_path = 16\n`)
  procs.push(daemon(d, 'storaged', 'fdfs_storaged', path.join(d, 'storage.conf')))
  await waitPort(ip, sport)
}
try {
  const up = await Conn.open('127.0.0.2', sport)
  const peer = await Conn.open('127.0.0.3', sport)
  await peer.call(9, fixed('lag-probe', 16))
  // Wait until sync A->B runs (first file arrives).
  const probe = async (remote) => (await peer.call(22, Buffer.concat([fixed('group1', 16), Buffer.from(remote)]))).status === 0
  const upload = async (data) => {
    const r = await up.call(11, Buffer.concat([Buffer.of(0), (() => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(data.length)); return b })(), fixed('bin', 6), data]))
    if (r.status) throw new Error(`upload ${r.status}`)
    return r.body.subarray(16).toString('latin1')
  }
  const warm = await upload(Buffer.from('warm up'))
  for (let t0 = Date.now(); !(await probe(warm)); ) if (Date.now() - t0 > 30_000) throw new Error('sync never started')
  const lags = []
  const uploadMs = []
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(size, i & 0xff)
    data.writeUInt32BE(i)
    const u0 = performance.now()
    const remote = await upload(data)
    const t0 = performance.now()
    uploadMs.push(t0 - u0)
    while (!(await probe(remote))) await new Promise((r) => setImmediate(r))
    lags.push(performance.now() - t0)
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 40))
  }
  const q = (a, p) => {
    const s = [...a].sort((x, y) => x - y)
    return s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2)
  }
  console.log(`size=${size} n=${count} lag ms: min ${q(lags, 0)} p50 ${q(lags, 0.5)} p90 ${q(lags, 0.9)} p99 ${q(lags, 0.99)} max ${q(lags, 1)} | upload p50 ${q(uploadMs, 0.5)} ms`)
  up.sock.destroy()
  peer.sock.destroy()
} finally {
  for (const p of procs.reverse()) p.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, 500))
  rmSync(dir, { recursive: true, force: true })
}
