/**
 * MODE id (use_storage_id = true, id_type_in_filename = id): two of our
 * storages on ONE IP with different ports replicate both ways (identity is the
 * storage id, not the IP: no "is myself" one-way sync), mark files are named
 * by id, and a storage lacking a fresh file proxies to the source found by the
 * numeric id in the name.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeStorageStats } from '../../../src/personalities/fastdfs/tracker/monitor-codec.js'
import { downloadFrom, uploadTo } from '../../helpers/fdfs-cluster.js'
import { fixedField, RawConn } from '../../helpers/fdfs-raw.js'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

let dir: string
let tport: number
const ports: number[] = []
const daemons: Daemon[] = []
const file = (i: number, remote: string) => path.join(dir, `s${i}`, 'store0', 'data', remote.slice(4))

beforeAll(async () => {
  dir = tmpDir('fdfs-sync-ids')
  tport = await freePort()
  ports.push(await freePort(), await freePort())
  const ids = `100001 group1 127.0.0.1:${ports[0]}\n100002 group1 127.0.0.1:${ports[1]}\n`
  mkdirSync(path.join(dir, 'tbase'))
  writeFileSync(path.join(dir, 'storage_ids.conf'), ids)
  writeFileSync(
    path.join(dir, 'tracker.conf'),
    `base_path = ${dir}/tbase\nbind_addr = 127.0.0.1\nport = ${tport}\nuse_storage_id = true\nstorage_ids_filename = ${dir}/storage_ids.conf\nid_type_in_filename = id\nreserved_storage_space = 1%\n`,
  )
  daemons.push(spawnDaemon('trackerd', 'fdfs_trackerd', [path.join(dir, 'tracker.conf'), '--foreground'], dir))
  await waitForPort('127.0.0.1', tport)
  for (const [i, p] of ports.entries()) {
    const sdir = path.join(dir, `s${i}`)
    mkdirSync(sdir)
    const conf = path.join(sdir, 'storage.conf')
    writeFileSync(
      conf,
      `group_name = group1\nbind_addr = 127.0.0.1\nport = ${p}\nbase_path = .\nstore_path0 = ./store0\ntracker_server = 127.0.0.1:${tport}\n` +
        `heart_beat_interval = 1\nsubdir_count_per_path = 4\nuse_storage_id = true\nstorage_ids_filename = ${dir}/storage_ids.conf\nid_type_in_filename = id\n`,
    )
    daemons.push(spawnDaemon('storaged', 'fdfs_storaged', [conf, '--foreground'], sdir))
    await waitForPort('127.0.0.1', p)
  }
  for (let i = 0; ; i++) {
    const t = await RawConn.connect(tport)
    const r = await t.call(92, fixedField('group1', 16))
    t.destroy()
    if (r.status === 0 && decodeStorageStats(r.body).filter((s) => s.status === 7).length === 2) break
    if (i > 400) throw new Error('storages never became ACTIVE')
    await new Promise((res) => setTimeout(res, 50))
  }
})
afterAll(async () => {
  for (const d of daemons.reverse()) await d.stop()
  rmSync(dir, { recursive: true, force: true })
})

const until = async (pred: () => boolean, what: string) => {
  for (let i = 0; !pred(); i++) {
    if (i > 400) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('sync with storage ids on one host', () => {
  it('replicates both ways between two ports of 127.0.0.1', async () => {
    const a = await uploadTo('127.0.0.1', ports[0], Buffer.from('from 100001'))
    const b = await uploadTo('127.0.0.1', ports[1], Buffer.from('from 100002'))
    await until(() => existsSync(file(1, a)) && existsSync(file(0, b)), 'both replicas')
    expect(readFileSync(file(1, a), 'utf8')).toBe('from 100001')
    expect(readFileSync(file(0, b), 'utf8')).toBe('from 100002')
    // A sender persists its mark after the peer's ack, a moment after the replica is visible.
    const mark = (i: number, peer: string) => path.join(dir, `s${i}`, 'data', 'sync', `${peer}.mark`)
    await until(() => existsSync(mark(0, '100002')) && existsSync(mark(1, '100001')), 'marks named by id')
  })

  it('a storage lacking a fresh file proxies to the source named by its id', async () => {
    const data = Buffer.from('proxied by id')
    const a = await uploadTo('127.0.0.1', ports[0], data)
    await until(() => existsSync(file(1, a)), 'replica')
    rmSync(file(1, a))
    const r = await downloadFrom('127.0.0.1', ports[1], a)
    expect(r.status).toBe(0)
    expect(r.body.equals(data)).toBe(true)
  })
})
