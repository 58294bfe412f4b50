/**
 * upload_min_copies = 2 (tandemfs storage.conf extension): the upload reply
 * comes only once the peer holds the file too; with the peer down, the reply
 * still comes after upload_copies_timeout (the file is stored and syncs later).
 */
import { existsSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'

let c: Cluster

beforeAll(async () => {
  c = await startCluster({ storages: 2, tag: 'fdfs-sync-copies', storageConf: 'upload_min_copies = 2\nupload_copies_timeout = 1s\n' })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
  // Senders start from the trackers' membership replies: wait until A pushes to B.
  const probe = await uploadTo(c.storages[0].ip, c.port, Buffer.from('probe'))
  await c.until(() => existsSync(c.storages[1].file(probe)), 'sync running')
})
afterAll(async () => {
  await c?.stop()
})

describe('upload_min_copies', () => {
  it('the peer has the file when the upload reply arrives', async () => {
    const [a, b] = c.storages
    for (let i = 0; i < 20; i++) {
      const data = Buffer.from(`two copies ${i} `.repeat(50))
      const remote = await uploadTo(a.ip, c.port, data)
      expect(readFileSync(b.file(remote)).equals(data)).toBe(true)
    }
  })

  it('with the peer down the upload still succeeds after the timeout, and syncs once it is back', async () => {
    const [a, b] = c.storages
    await b.daemon.stop()
    const t0 = Date.now()
    const remote = await uploadTo(a.ip, c.port, Buffer.from('lonely'))
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900)
    await b.start()
    await c.until(() => existsSync(b.file(remote)), 'synced after restart', 20_000)
  })
})
