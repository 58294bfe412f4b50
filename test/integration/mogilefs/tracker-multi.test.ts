/**
 * Two real bin/mogilefsd processes sharing one database (SQLite file or
 * MariaDB): both serve clients, and the replication leases keep them from
 * doing the same copy twice (no fid ends up with more copies than its policy).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../../helpers/proc.js'
import { makeDb, setupCluster, startStores, startTracker, store, httpReq, TrackerClient, until, type Backend, type Db, type Stores, type TrackerProc } from './tracker-harness.js'
import { mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'

describe.each<Backend>(['SQLite', 'MariaDB'])('two trackers on one %s database', (backend) => {
  let st: Stores
  let db: Db
  let dir: string
  const trk: TrackerProc[] = []
  const cl: TrackerClient[] = []

  beforeAll(async () => {
    dir = tmpDir(`mogmulti-${backend}`)
    st = await startStores(dir, 3, 1)
    db = await makeDb(backend, dir)
    for (const name of ['a', 'b']) {
      const d = path.join(dir, name)
      mkdirSync(d)
      trk.push(await startTracker(d, db.dsn, st.mgmtPort))
      cl.push(await TrackerClient.connect(trk[trk.length - 1].port))
    }
    await setupCluster(cl[0], st)
    // The second tracker sees the namespace after its next reload and probe round.
    await until(async () => {
      const d = await cl[1].ok('get_devices')
      return Number(d.devices) === 3 && [1, 2, 3].every((i) => d[`dev${i}_observed_state`] === 'writeable')
    }, 20_000, 'second tracker sees writeable devices')
  })
  afterAll(async () => {
    for (const c of cl) c.close()
    for (const t of trk) await t.daemon.stop()
    await st?.stopAll()
    await db?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('stores through both trackers replicate exactly to policy and read back through either', async () => {
    const files: Array<{ key: string; data: Buffer }> = []
    for (let i = 0; i < 12; i++) {
      const data = Buffer.from(`multi ${backend} ${i} `.repeat(50 + i))
      const r = await store(cl[i % 2], `multi-${i}`, data, 'two')
      expect(r.close.line).toBe('OK \r\n')
      files.push({ key: `multi-${i}`, data })
    }
    for (const f of files) {
      await until(async () => (await cl[1].ok('file_info', { domain: 'testdom', key: f.key })).devcount === '2', 30_000, `${f.key} devcount 2`)
      const info = await cl[0].ok('file_info', { domain: 'testdom', key: f.key, devices: 1 })
      expect(info.devids.split(',')).toHaveLength(2)
      const p = await cl[1].ok('get_paths', { domain: 'testdom', key: f.key })
      for (const u of [p.path1, p.path2]) expect((await httpReq('GET', u)).body.equals(f.data)).toBe(true)
    }
    // A key renamed on one tracker is visible on the other at once (no cache for file rows).
    await cl[0].ok('rename', { domain: 'testdom', from_key: 'multi-0', to_key: 'multi-renamed' })
    expect((await cl[1].ok('file_info', { domain: 'testdom', key: 'multi-renamed' })).length).toBe(String(files[0].data.length))
  })
})
