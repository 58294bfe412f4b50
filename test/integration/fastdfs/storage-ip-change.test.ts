/**
 * A storage (MODE ip) restarted on another address: it reports the change to
 * the tracker before joining (STORAGE_REPORT_IP_CHANGED 78), the tracker moves
 * its entry (old address IP_CHANGED, new one ACTIVE with the counters), and a
 * file it stored under its old address is still found through the tracker.
 * Real processes, temp dirs, free ports.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, type Cluster } from '../../helpers/fdfs-cluster.js'
import { spawnDaemon, waitForPort, type Daemon } from '../../helpers/proc.js'
import { FdfsClient } from '../../../src/personalities/fastdfs/client/fdfs-client.js'
import { clientConfFor } from '../../../src/personalities/fastdfs/client/client-conf.js'
import { Writable } from 'node:stream'

const NEW_IP = '127.0.0.29'
let c: Cluster
let moved: Daemon | undefined
let client: FdfsClient

beforeAll(async () => {
  c = await startCluster({ storages: 1, tag: 'fdfs-ip-change' })
  await c.until(async () => (await c.list()).some((s) => s.status === 7), 'storage ACTIVE')
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
  it('reports the move; the tracker keeps its state under the new address and still routes its files', async () => {
    const [s] = c.storages
    const data = Buffer.from('stored before the move '.repeat(100))
    const id = await client.upload(data, 'txt')
    expect(id).toMatch(/^group1\/M00\//)
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
    expect(list.map((x) => [x.ip, x.status])).toEqual([[s.ip, 3], [NEW_IP, 7]])
    // The upload counter moved with the entry (the storage reports it again anyway on its beats).
    expect(list.find((x) => x.ip === NEW_IP)!.stats.longs[0]).toBeGreaterThanOrEqual(1)
    // The file's name still says the old address; the tracker sends the read to the new one.
    expect((await fetch(id)).equals(data)).toBe(true)
    // Uploads carry on, now named after the new address.
    const after = await client.upload(Buffer.from('after the move'), 'txt')
    expect((await fetch(after)).toString()).toBe('after the move')
  })
})
