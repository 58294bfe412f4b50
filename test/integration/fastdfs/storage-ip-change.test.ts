/**
 * A storage (MODE ip) restarted on another address: it reports the change to
 * the tracker before joining (STORAGE_REPORT_IP_CHANGED 78), the tracker moves
 * its entry (old address IP_CHANGED, new one ACTIVE with the counters), and a
 * file it stored under its old address is still found through the tracker.
 * Real processes, temp dirs, free ports.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'
import { spawnDaemon, waitForPort, type Daemon } from '../../helpers/proc.js'
import { FdfsClient } from '../../../src/personalities/fastdfs/client/fdfs-client.js'
import { clientConfFor } from '../../../src/personalities/fastdfs/client/client-conf.js'
import { Writable } from 'node:stream'

const NEW_IP = '127.0.0.29'
let c: Cluster
let moved: Daemon | undefined
let client: FdfsClient

beforeAll(async () => {
  c = await startCluster({ storages: 2, tag: 'fdfs-ip-change' })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
  client = new FdfsClient(clientConfFor([{ host: '127.0.0.1', port: c.trackers[0].port }], { connectTimeout: 5, networkTimeout: 10 }))
})
afterAll(async () => {
  client?.close()
  await moved?.stop()
  await c?.stop()
})

async function fetch(id: string): Promise<Buffer> {
  const parts: Buffer[] = []
  const sink = new Writable({ write: (b: Buffer, _e, cb) => (parts.push(b), cb()) })
  await client.download(id, sink)
  return Buffer.concat(parts)
}

describe('storage ip change', () => {
  it('reports the move; the tracker keeps its state under the new address, still routes its files, and the peer keeps its sync mark', async () => {
    const [s, peer] = c.storages
    const data = Buffer.from('stored before the move '.repeat(100))
    const id = `group1/${await uploadTo(s.ip, c.port, data, 'txt')}`
    // The peer pushes its own uploads to s: it has a sync mark for s's old address.
    const fromPeer = await uploadTo(peer.ip, c.port, Buffer.from('from the peer'), 'txt')
    await c.until(() => existsSync(s.file(fromPeer)), 'peer upload synced to s')
    const oldMark = path.join(peer.dir, 'data', 'sync', `${s.ip}_${c.port}.mark`)
    const newMark = path.join(peer.dir, 'data', 'sync', `${NEW_IP}_${c.port}.mark`)
    await c.until(() => existsSync(oldMark), "peer's mark for s saved", 10_000)
    expect((await fetch(id)).equals(data)).toBe(true)
    expect(await s.daemon.stop()).toBe(0)
    writeFileSync(s.conf, readFileSync(s.conf, 'utf8').replace(/^bind_addr = .*$/m, `bind_addr = ${NEW_IP}`))
    moved = spawnDaemon('storaged-moved', 'fdfs_storaged', [s.conf, '--foreground'], s.dir)
    await waitForPort(NEW_IP, c.port)
    await c.until(async () => {
      const l = await c.list()
      return l.find((x) => x.ip === NEW_IP)?.status === 7 && l.find((x) => x.ip === s.ip)?.status === 3
    }, 'new address ACTIVE and old one IP_CHANGED')
    const list = await c.list()
    expect(list.map((x) => [x.ip, x.status])).toEqual([[s.ip, 3], [NEW_IP, 7], [peer.ip, 7]]) // sorted by id, as the C tracker sorts
    // The upload counter moved with the entry (the storage reports it again anyway on its beats).
    expect(list.find((x) => x.ip === NEW_IP)!.stats.longs[0]).toBeGreaterThanOrEqual(1)
    // The file's name still says the old address; the tracker sends the read to the new one.
    expect((await fetch(id)).equals(data)).toBe(true)
    // Uploads carry on, now named after the new address.
    const after = await client.upload(Buffer.from('after the move'), 'txt')
    expect((await fetch(after)).toString()).toBe('after the move')
    // The peer read the tracker's changelog and moved its mark instead of replaying its binlog.
    const again = await uploadTo(peer.ip, c.port, Buffer.from('from the peer, after'), 'txt')
    await c.until(() => existsSync(s.file(again)), 'peer upload synced to the moved storage')
    expect(existsSync(newMark)).toBe(true)
    expect(existsSync(oldMark)).toBe(false)
    expect(peer.daemon.log()).toContain('kept its sync mark')
  })
})
