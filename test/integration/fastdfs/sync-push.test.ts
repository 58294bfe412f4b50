/**
 * Binlog push sync between two of our storages (real processes, MODE ip on
 * 127.0.0.2/127.0.0.3 with one tracker): uploads, appends, modifies,
 * truncates, metadata and deletes reach the peer; the peer reports its sync
 * progress to the tracker; a peer killed during a burst catches up after a
 * restart with nothing missing or duplicated.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'
import { STAT_IDX } from '../../../src/personalities/fastdfs/tracker/state.js'
import { appendBody, groupName, modifyBody, RawConn, setMetaBody, truncateBody } from '../../helpers/fdfs-raw.js'

let c: Cluster
let A: RawConn

/** `n` bytes of a position- and seed-dependent pattern (a misplaced or dropped chunk shows). */
function pattern(n: number, seed: number, step: number): Buffer {
  const d = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) d[i] = (i * step + seed) & 0xff
  return d
}

const same = (x: string, y: string) => existsSync(x) && existsSync(y) && readFileSync(x).equals(readFileSync(y))

beforeAll(async () => {
  // rotate count 1: consecutive uploads land in consecutive subdirs (used by the parking test).
  c = await startCluster({ storages: 2, tag: 'fdfs-sync-push', storageConf: 'file_distribute_rotate_count = 1\n' })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
  A = await RawConn.connect(c.port, c.storages[0].ip)
})
afterAll(async () => {
  A?.destroy()
  await c?.stop()
})

describe('push sync between two storages', () => {
  it('an upload on A lands on B byte-identical, with a replica binlog record and a sync report', async () => {
    const [a, b] = c.storages
    const data = Buffer.from('hello from A '.repeat(300))
    const remote = await uploadTo(a.ip, c.port, data)
    await c.until(() => same(a.file(remote), b.file(remote)), 'replica on B')
    expect(readFileSync(b.file(remote)).equals(data)).toBe(true)
    const binlogB = readFileSync(path.join(b.dir, 'data', 'sync', 'binlog.000'), 'utf8')
    expect(binlogB).toMatch(new RegExp(`^\\d+ c ${remote}$`, 'm'))
    // B tells the tracker how far it got from A (SYNC_REPORT 89) → last_synced_timestamp > 0.
    await c.until(async () => ((await c.list()).find((s) => s.ip === b.ip)?.stats.longs[STAT_IDX.LAST_SYNCED_TIMESTAMP] ?? 0) > 0, 'B reported its sync progress')
    // Reverse direction too.
    const back = await uploadTo(b.ip, c.port, Buffer.from('from B'))
    await c.until(() => same(b.file(back), a.file(back)), 'replica on A')
  })

  it('large files and large appends (sent with sendfile when the addon is built) land byte-identical', async () => {
    const [a, b] = c.storages
    const big = (n: number, seed: number) => pattern(n, seed, 7)
    const whole = await Promise.all([300_000, 1_048_577, 65_537].map((n, i) => uploadTo(a.ip, c.port, big(n, i))))
    // An appender grown by a large append: the sync record ships the range [old size, new size).
    const app = await uploadTo(a.ip, c.port, big(70_000, 9), 'bin', 23)
    expect((await A.call(24, appendBody(app, big(200_000, 5)))).status).toBe(0)
    for (const r of [...whole, app]) await c.until(() => same(a.file(r), b.file(r)), `replica of ${r} on B`)
    expect(readFileSync(b.file(app)).length).toBe(270_000)
  })

  it('small creates (read straight into the request) and large ones (streamed) interleaved all land byte-identical', async () => {
    const [a, b] = c.storages
    const body = (n: number, seed: number) => pattern(n, seed, 13)
    // Sizes around the synchronous path's limit (64 KiB) and far above it, uploaded at once so the
    // sender's batches mix both paths: a small create must never overtake a queued large one on the wire.
    const sizes = [10, 70_000, 4096, 0, 65_536, 65_537, 200_000, 1, 4096, 65_535, 300_000, 12]
    const remotes = await Promise.all(sizes.map((n, i) => uploadTo(a.ip, c.port, body(n, i))))
    for (const [i, r] of remotes.entries()) {
      await c.until(() => same(a.file(r), b.file(r)), `replica of ${r} on B`)
      expect(readFileSync(b.file(r)).equals(body(sizes[i], i))).toBe(true)
    }
  })

  it('a burst of pipelined small replicas: every acknowledged one has its replica record in B binlog, once', async () => {
    const [a, b] = c.storages
    // Many at once so A's sender pipelines them and B answers them from a corked socket, writing
    // their records together before the replies go (Binlog.appendHeld).
    const remotes = await Promise.all(Array.from({ length: 120 }, (_, i) => uploadTo(a.ip, c.port, pattern(100 + i, i, 3))))
    const markFile = path.join(a.dir, 'data', 'sync', `${b.ip}_${c.port}.mark`)
    const endA = () => readFileSync(path.join(a.dir, 'data', 'sync', 'binlog.000')).length
    // Once A has saved a cursor past the burst (B acknowledged all of it), B's binlog has them all.
    await c.until(() => existsSync(markFile) && Number(/binlog_offset=(\d+)/.exec(readFileSync(markFile, 'utf8'))?.[1] ?? -1) >= endA(), 'A acknowledged by B up to its binlog end', 20_000)
    const lines = readFileSync(path.join(b.dir, 'data', 'sync', 'binlog.000'), 'utf8').split('\n')
    for (const r of remotes) expect(lines.filter((l) => l.endsWith(` c ${r}`)).length).toBe(1)
    // Whole records only: every line is `<ts> <op> <name>`.
    for (const l of lines.filter(Boolean)) expect(l).toMatch(/^\d+ [A-Za-z] \S+( .*)?$/)
  })

  it('append, modify, truncate, metadata and delete propagate', async () => {
    const [a, b] = c.storages
    const remote = await uploadTo(a.ip, c.port, Buffer.from('0123456789'), 'txt', 23)
    expect((await A.call(24, appendBody(remote, Buffer.from('abcdef')))).status).toBe(0)
    expect((await A.call(34, modifyBody(remote, 2, Buffer.from('XY')))).status).toBe(0)
    expect((await A.call(24, appendBody(remote, Buffer.from('tail')))).status).toBe(0)
    expect((await A.call(36, truncateBody(remote, 12))).status).toBe(0)
    expect((await A.call(13, setMetaBody('group1', remote, 'O', Buffer.from('w\x02640\x01h\x02480')))).status).toBe(0)
    await c.until(() => same(a.file(remote), b.file(remote)) && same(a.file(remote) + '-m', b.file(remote) + '-m'), 'appender + metadata on B')
    expect(readFileSync(b.file(remote), 'latin1')).toBe('01XY456789ab')
    const gone = await uploadTo(a.ip, c.port, Buffer.from('short lived'))
    await c.until(() => existsSync(b.file(gone)), 'replica before delete')
    expect((await A.call(12, groupName('group1', gone))).status).toBe(0)
    await c.until(() => !existsSync(b.file(gone)), 'delete on B')
    expect((await A.call(12, groupName('group1', remote))).status).toBe(0)
    await c.until(() => !existsSync(b.file(remote)) && !existsSync(b.file(remote) + '-m'), 'appender and metadata deleted on B')
  })

  it('B killed during a burst catches up after restart: nothing missing, nothing duplicated', async () => {
    const [a, b] = c.storages
    const names: string[] = []
    const datas = new Map<string, Buffer>()
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const d = Buffer.from(`file ${names.length} `.repeat(1 + (names.length % 50)))
        const r = await uploadTo(a.ip, c.port, d)
        names.push(r)
        datas.set(r, d)
      }
    }
    await burst(60)
    await b.daemon.kill()
    await burst(60)
    await b.start()
    await burst(30)
    await c.until(() => names.every((n) => existsSync(b.file(n))), 'all files on B', 40_000)
    for (const n of names) expect(readFileSync(b.file(n)).equals(datas.get(n)!)).toBe(true)
    const lines = readFileSync(path.join(b.dir, 'data', 'sync', 'binlog.000'), 'utf8').split('\n')
    for (const n of names) expect(lines.filter((l) => l.endsWith(` c ${n}`)).length).toBeLessThanOrEqual(1)
    // A's mark file for B moved on and records where it is.
    const mark = readFileSync(path.join(a.dir, 'data', 'sync', `${b.ip}_${c.port}.mark`), 'utf8')
    expect(mark).toMatch(/binlog_offset=\d+/)
  })

  it('a record the peer keeps refusing is parked and retried; later records are not held up', async () => {
    const [a, b] = c.storages
    const names: string[] = []
    for (let i = 0; i < 4; i++) names.push(await uploadTo(a.ip, c.port, Buffer.from(`probe ${i}`)))
    await c.until(() => names.every((n) => existsSync(b.file(n))), 'probes synced')
    // Break one subdir on B: a regular file where the directory should be makes every write there fail.
    const victim = path.dirname(b.file(names[0]))
    rmSync(victim, { recursive: true, force: true })
    writeFileSync(victim, 'not a directory')
    const more: string[] = []
    // 16 uploads with rotate count 1 cover all 4 x 4 subdirs, the broken one included.
    for (let i = 0; i < 16; i++) more.push(await uploadTo(a.ip, c.port, Buffer.from(`after ${i}`)))
    const blocked = more.filter((n) => path.dirname(b.file(n)) === victim)
    const free = more.filter((n) => path.dirname(b.file(n)) !== victim)
    expect(blocked.length).toBeGreaterThan(0)
    expect(free.length).toBeGreaterThan(0)
    await c.until(() => free.every((n) => existsSync(b.file(n))), 'records after the failing one synced')
    rmSync(victim)
    mkdirSync(victim)
    await c.until(() => blocked.every((n) => existsSync(b.file(n))), 'parked records retried', 20_000)
  })
})
