/**
 * Whole-system behaviour of the real bin/mogilefsd with three real
 * bin/mogstored nodes: store → replicate → fetch → rename → delete, the
 * reaper restoring copies of a dead device, fsck repairing a lost replica, and
 * a tracker crash with pending replication losing nothing.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../../helpers/proc.js'
import { fidPath } from '../../../src/personalities/mogilefs/tracker/paths.js'
import { MetadataStore } from '../../../src/personalities/mogilefs/db/store.js'
import { parseDsn } from '../../../src/personalities/mogilefs/db/dsn.js'
import { httpReq, makeDb, setupCluster, startStores, startTracker, store, TrackerClient, until, type Backend, type Db, type Stores, type TrackerProc } from './tracker-harness.js'

describe.each<Backend>(['SQLite', 'MariaDB'])('mogilefsd cycle on %s', (backend) => {
  let dir: string
  let st: Stores
  let db: Db
  let trk: TrackerProc
  let c: TrackerClient

  const blobOn = (devid: number, fid: number) => path.join(st.roots[devid - 1], fidPath(devid, fid))
  const devids = async (key: string) => (await c.ok('file_info', { domain: 'testdom', key, devices: 1 })).devids.split(',').filter(Boolean).map(Number).sort()

  beforeAll(async () => {
    dir = tmpDir(`mogcycle-${backend}`)
    st = await startStores(dir, 3, 1)
    db = await makeDb(backend, dir)
    trk = await startTracker(dir, db.dsn, st.mgmtPort)
    c = await TrackerClient.connect(trk.port)
    await setupCluster(c, st)
  })
  afterAll(async () => {
    c?.close()
    await trk?.daemon.stop()
    await st?.stopAll()
    await db?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('store → replicate → fetch → rename → delete', async () => {
    const data = Buffer.alloc(256 * 1024)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    const s = await store(c, 'cycle-1', data, 'two')
    expect(s.close.line).toBe('OK \r\n')
    const t0 = Date.now()
    const devs = await until(async () => {
      const d = await devids('cycle-1')
      return d.length === 2 ? d : undefined
    }, 20_000, 'second copy')
    console.log(`[${backend}] second copy recorded ${Date.now() - t0} ms after create_close`)
    for (const d of devs) expect(existsSync(blobOn(d, s.fid))).toBe(true)
    const p = await c.ok('get_paths', { domain: 'testdom', key: 'cycle-1' })
    expect(p.paths).toBe('2')
    for (const u of [p.path1, p.path2]) expect((await httpReq('GET', u)).body.equals(data)).toBe(true)
    await c.ok('rename', { domain: 'testdom', from_key: 'cycle-1', to_key: 'cycle-2' })
    expect((await c.cmd('get_paths', { domain: 'testdom', key: 'cycle-1' })).code).toBe('unknown_key')
    expect((await c.ok('get_paths', { domain: 'testdom', key: 'cycle-2', noverify: 1 })).paths).toBe('2')
    await c.ok('delete', { domain: 'testdom', key: 'cycle-2' })
    expect((await c.cmd('delete', { domain: 'testdom', key: 'cycle-2' })).code).toBe('unknown_key')
    await until(async () => devs.every((d) => !existsSync(blobOn(d, s.fid))), 20_000, 'blobs deleted')
  })

  it('overwriting a key keeps serving the new content and removes the old blobs', async () => {
    const a = await store(c, 'over', Buffer.from('version one'), 'one')
    const b = await store(c, 'over', Buffer.from('version two!'), 'one')
    expect(b.close.ok).toBe(true)
    const p = await c.ok('get_paths', { domain: 'testdom', key: 'over' })
    expect((await httpReq('GET', p.path1)).body.toString()).toBe('version two!')
    await until(async () => !existsSync(blobOn(a.devid, a.fid)), 20_000, 'old fid deleted')
  })

  it('a dead device: the reaper re-replicates its files elsewhere', async () => {
    const s = await store(c, 'reap-me', Buffer.from('precious'), 'two')
    const before = await until(async () => {
      const d = await devids('reap-me')
      return d.length === 2 ? d : undefined
    }, 20_000, 'two copies')
    const victim = before[0]
    await c.ok('set_state', { host: `store${victim}`, device: victim, state: 'dead' })
    const after = await until(async () => {
      const d = await devids('reap-me')
      return d.length === 2 && !d.includes(victim) ? d : undefined
    }, 30_000, 'copy count restored without the dead device')
    const third = after.find((d) => !before.includes(d))!
    expect(existsSync(blobOn(third, s.fid))).toBe(true)
    expect((await c.cmd('set_state', { host: `store${victim}`, device: victim, state: 'alive' })).code).toBe('state_too_high')
  })

  it('fsck finds a deleted replica and restores it', async () => {
    const s = await store(c, 'fsck-me', Buffer.from('fsck body'), 'two')
    const devs = await until(async () => {
      const d = await devids('fsck-me')
      return d.length === 2 ? d : undefined
    }, 20_000, 'two copies')
    rmSync(blobOn(devs[0], s.fid))
    await c.ok('fsck_reset', { startpos: 0 })
    await c.ok('fsck_clearlog')
    await c.ok('fsck_start')
    await until(async () => (await c.ok('fsck_status')).running === '0', 30_000, 'fsck finished')
    const log = await c.ok('fsck_getlog', { after_logid: 0 })
    const codes = Array.from({ length: Number(log.row_count) }, (_, i) => `${log[`row_${i + 1}_evcode`]}:${log[`row_${i + 1}_fid`]}`)
    expect(codes).toContain(`MISS:${s.fid}`)
    expect(codes).toContain(`REPL:${s.fid}`)
    await until(async () => {
      const d = await devids('fsck-me')
      return d.length === 2 && d.every((x) => existsSync(blobOn(x, s.fid)))
    }, 20_000, 'replica restored')
    expect(Number((await c.ok('fsck_status')).num_MISS)).toBeGreaterThanOrEqual(1)
  })

  it('a tracker crash with replication pending loses nothing', async () => {
    const live = await c.ok('get_devices')
    const alive = Array.from({ length: Number(live.devices) }, (_, i) => i + 1).filter((i) => live[`dev${i}_status`] === 'alive').map((i) => Number(live[`dev${i}_devid`]))
    const [keep, stop] = alive
    // The node behind `stop` goes away (process killed): copies to it fail and are rescheduled.
    await st.daemons[stop - 1].kill()
    await until(async () => (await c.ok('get_devices', { devid: stop })).dev1_observed_state === 'unreachable', 20_000, 'device unreachable')
    const stored: Array<{ key: string; data: Buffer }> = []
    for (let i = 0; i < 5; i++) {
      const data = Buffer.from(`crash test ${i} `.repeat(100))
      const r = await store(c, `crash-${i}`, data, 'two')
      expect(r.close.ok).toBe(true)
      stored.push({ key: `crash-${i}`, data })
    }
    for (const s of stored) expect(await devids(s.key)).toEqual([keep])
    await trk.daemon.kill()
    c.close()
    await st.start(stop - 1)
    await trk.restart()
    c = await TrackerClient.connect(trk.port)
    await until(async () => (await c.ok('get_devices', { devid: stop })).dev1_observed_state === 'writeable', 20_000, 'device back')
    // Rows were rescheduled with backoff (or still leased by the dead process): make them due now.
    await c.ok('replicate_now')
    for (const s of stored) {
      await until(async () => (await devids(s.key)).length === 2, 30_000, `${s.key} replicated after restart`)
      const p = await c.ok('get_paths', { domain: 'testdom', key: s.key })
      for (const u of [p.path1, p.path2]) expect((await httpReq('GET', u)).body.equals(s.data)).toBe(true)
    }
  })

  it('an upload abandoned for over an hour is swept: tempfile row and blob go away', async () => {
    const o = await c.ok('create_open', { domain: 'testdom', key: 'abandoned', class: 'one', multi_dest: 1 })
    expect((await httpReq('PUT', o.path_1, Buffer.from('never closed'))).status).toBe(200)
    const devid = Number(o.devid_1)
    const fid = Number(o.fid)
    expect(existsSync(blobOn(devid, fid))).toBe(true)
    const meta = await MetadataStore.open(parseDsn(db.dsn), { user: 'root', migrate: false })
    try {
      await meta.k('tempfile').where({ fid }).update({ createtime: Math.floor(Date.now() / 1000) - 3700 })
      // The sweep runs at start and then every minute: restart instead of waiting.
      await trk.daemon.stop()
      c.close()
      await trk.restart()
      c = await TrackerClient.connect(trk.port)
      await until(async () => !existsSync(blobOn(devid, fid)), 20_000, 'abandoned blob deleted')
      await until(async () => !(await meta.k('tempfile').where({ fid }).first()), 20_000, 'tempfile row gone')
    } finally {
      await meta.close()
    }
    expect((await c.cmd('create_close', { domain: 'testdom', fid, devid, path: o.path_1, key: 'abandoned' })).code).toBe('no_temp_file')
  })

  it('rebalance moves copies off the source device and never drops a copy', async () => {
    const live = await c.ok('get_devices')
    const alive = Array.from({ length: Number(live.devices) }, (_, i) => i + 1).filter((i) => live[`dev${i}_status`] === 'alive').map((i) => Number(live[`dev${i}_devid`]))
    const [from, to] = alive
    const files: Array<{ key: string; data: Buffer }> = []
    for (let i = 0; i < 6; i++) {
      const data = Buffer.from(`rebalance ${i} `.repeat(40))
      expect((await store(c, `rebal-${i}`, data, 'one')).close.ok).toBe(true)
      files.push({ key: `rebal-${i}`, data })
    }
    await c.ok('rebalance_set_policy', { policy: `from_devices=${from} to_devices=${to}` })
    expect(await c.ok('rebalance_test')).toEqual({ sdevs: String(from), ddevs: String(to) })
    await c.ok('rebalance_start')
    await until(async () => / completed=1/.test(' ' + (await c.ok('rebalance_status')).state), 30_000, 'rebalance completed')
    for (const f of files) {
      const d = await devids(f.key)
      expect(d).toHaveLength(1)
      expect(d).not.toContain(from)
      const p = await c.ok('get_paths', { domain: 'testdom', key: f.key })
      expect((await httpReq('GET', p.path1)).body.equals(f.data)).toBe(true)
    }
    expect((await c.cmd('rebalance_stop')).code).toBe('rebal_not_started')
  })

  it('fsck with checksums finds a corrupted replica (same length) and replaces it', async () => {
    await c.ok('create_class', { domain: 'testdom', class: 'md5two', mindevcount: 2, hashtype: 'MD5' })
    const data = Buffer.from('checksummed replica '.repeat(30))
    const md5 = createHash('md5').update(data).digest('hex')
    const s = await store(c, 'fsck-sum', data, 'md5two', { checksum: `MD5:${md5}` })
    expect(s.close.ok).toBe(true)
    const devs = await until(async () => {
      const d = await devids('fsck-sum')
      return d.length === 2 ? d : undefined
    }, 20_000, 'two copies')
    const victim = blobOn(devs[1], s.fid)
    writeFileSync(victim, Buffer.alloc(data.length, 0x41))
    await c.ok('fsck_reset', { startpos: 0 })
    await c.ok('fsck_clearlog')
    await c.ok('fsck_start')
    await until(async () => (await c.ok('fsck_status')).running === '0', 30_000, 'fsck finished')
    const log = await c.ok('fsck_getlog', { after_logid: 0 })
    const codes = Array.from({ length: Number(log.row_count) }, (_, i) => `${log[`row_${i + 1}_evcode`]}:${log[`row_${i + 1}_fid`]}`)
    expect(codes).toContain(`BSUM:${s.fid}`)
    await until(async () => {
      const d = await devids('fsck-sum')
      return d.length === 2 && d.every((x) => existsSync(blobOn(x, s.fid)) && readFileSync(blobOn(x, s.fid)).equals(data))
    }, 20_000, 'corrupt replica replaced')
    expect((await c.ok('file_info', { domain: 'testdom', key: 'fsck-sum' })).checksum).toBe(`MD5:${md5}`)
  })
})
