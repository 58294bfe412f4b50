/**
 * fdfs_trackerd with use_storage_id = true: two storages on the same IP with
 * different ports stay two storages (keyed by id), a storage missing from
 * storage_ids.conf is refused, rw=readonly keeps a storage out of uploads,
 * and FETCH_STORAGE_IDS returns the table.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeGroupStat, decodeStorageStats } from '../../../src/personalities/fastdfs/tracker/monitor-codec.js'
import { groupBuf, joinBody, RawFdfs } from '../../helpers/fdfs-tracker-raw.js'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

let dir: string
let port: number
let tracker: Daemon
const conns: RawFdfs[] = []

beforeAll(async () => {
  dir = tmpDir('fdfs-tracker-ids')
  mkdirSync(path.join(dir, 'base'))
  port = await freePort()
  writeFileSync(path.join(dir, 'storage_ids.conf'), '# ids\n100001 group1 127.0.0.1:33001\n100002 group1 127.0.0.1:33002\n100003 group1 127.0.0.1:33003 rw=read\n')
  writeFileSync(
    path.join(dir, 'tracker.conf'),
    `base_path = ${dir}/base\nbind_addr = 127.0.0.1\nport = ${port}\nuse_storage_id = true\nstorage_ids_filename = storage_ids.conf\nid_type_in_filename = id\nreserved_storage_space = 1%\n`,
  )
  tracker = spawnDaemon('tracker', 'fdfs_trackerd', [path.join(dir, 'tracker.conf'), '--foreground'], dir)
  await waitForPort('127.0.0.1', port)
})

afterAll(async () => {
  for (const c of conns) c.close()
  await tracker?.stop()
})

async function join(p: number, id = ''): Promise<{ c: RawFdfs; status: number }> {
  const c = await RawFdfs.connect(port)
  // status 7: storages that already hold data (as after a tracker state loss) go ONLINE without a bootstrap
  const r = await c.call(81, joinBody({ port: p, storageId: id, status: 7, trackers: [`127.0.0.1:${port}`] }))
  conns.push(c)
  return { c, status: r!.status }
}

describe('use_storage_id = true', () => {
  it('PARAMETER_REQ announces ids', async () => {
    const c = await RawFdfs.connect(port)
    const t = (await c.call(75))!.body.toString()
    expect(t.startsWith('use_storage_id=1\nid_type_in_filename=id\n')).toBe(true)
    c.close()
  })

  it('two storages on one IP are two members; an unknown one is refused', async () => {
    const a = await join(33001)
    const b = await join(33002, '100002')
    const ro = await join(33003)
    expect([a.status, b.status, ro.status]).toEqual([0, 0, 0])
    for (const x of [a, b, ro]) expect((await x.c.call(83))?.status).toBe(0)
    expect((await join(33009)).status).toBe(2)
    const c = await RawFdfs.connect(port)
    const g = decodeGroupStat((await c.call(91))!.body)
    expect(g).toMatchObject({ storageCount: 3, storagePort: -1, readableCount: 3, writableCount: 2 })
    const list = decodeStorageStats((await c.call(92, groupBuf('group1')))!.body)
    expect(list.map((s) => [s.id, s.ip, s.storagePort, s.status, s.rwMode])).toEqual([
      ['100001', '127.0.0.1', 33001, 7, 6],
      ['100002', '127.0.0.1', 33002, 7, 6],
      ['100003', '127.0.0.1', 33003, 7, 4],
    ])
    // uploads alternate between the two writable ones, never the read-only one
    const ports = []
    for (let i = 0; i < 4; i++) ports.push(Number((await c.call(101))!.body.readBigInt64BE(31)))
    expect(ports).toEqual([33001, 33002, 33001, 33002])
    c.close()
  })

  it('GET_SERVER_ID and FETCH_STORAGE_IDS', async () => {
    const c = await RawFdfs.connect(port)
    const id = await c.call(70, Buffer.concat([groupBuf('group1'), Buffer.from('127.0.0.1:33002')]))
    expect(id?.body.toString()).toBe('100002')
    const ids = (await c.call(69, Buffer.from([0, 0, 0, 0, 0])))!.body
    expect(ids.readInt32BE(0)).toBe(3)
    expect(ids.readInt32BE(4)).toBe(3)
    expect(ids.subarray(8).toString()).toBe('100001 group1 127.0.0.1:33001\n100002 group1 127.0.0.1:33002\n100003 group1 127.0.0.1:33003 rw=read\n')
    expect((await c.call(69, Buffer.from([0, 0, 0, 9, 0])))?.status).toBe(22)
    c.close()
  })
})
