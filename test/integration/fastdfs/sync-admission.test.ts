/**
 * upload_sync_backlog_max (tandemfs storage.conf extension, storage/sync-admission.ts) with real
 * daemons: large uploads (256 KiB and more) pushed concurrently into one storage all succeed and
 * reach the peer, with at most N of them waiting for their copies; a peer that stops (SIGSTOP:
 * its connection stays up, it just never answers) delays one large upload by at most
 * upload_copies_timeout, after which uploads run freely, and everything syncs once it resumes.
 */
import { existsSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'

let c: Cluster

function body(i: number): Buffer {
  const b = Buffer.allocUnsafe(300_000 + i)
  for (let k = 0; k < b.length; k++) b[k] = (k * 13 + i) & 0xff
  return b
}

beforeAll(async () => {
  c = await startCluster({ storages: 2, tag: 'fdfs-sync-admission', storageConf: 'upload_sync_backlog_max = 2\nupload_copies_timeout = 1s\n' })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
  const probe = await uploadTo(c.storages[0].ip, c.port, Buffer.from('probe'))
  await c.until(() => existsSync(c.storages[1].file(probe)), 'sync running')
})
afterAll(async () => {
  const b = c?.storages[1]
  if (b) {
    try {
      process.kill(b.daemon.proc.pid!, 'SIGCONT')
    } catch {
      // already gone
    }
  }
  await c?.stop()
})

describe('upload_sync_backlog_max', () => {
  it('concurrent large uploads all succeed and all reach the peer', async () => {
    const [a, b] = c.storages
    const data = Array.from({ length: 10 }, (_, i) => body(i))
    const remotes = await Promise.all(data.map((d) => uploadTo(a.ip, c.port, d)))
    await c.until(() => remotes.every((r) => existsSync(b.file(r))), 'all copies on the peer')
    for (const [i, r] of remotes.entries()) expect(readFileSync(b.file(r)).equals(data[i])).toBe(true)
  })

  it('a stopped peer delays large uploads by at most the copies timeout, then they run freely', async () => {
    const [a, b] = c.storages
    process.kill(b.daemon.proc.pid!, 'SIGSTOP')
    try {
      const t0 = Date.now()
      const remotes: string[] = []
      for (let i = 0; i < 8; i++) remotes.push(await uploadTo(a.ip, c.port, body(20 + i)))
      const took = Date.now() - t0
      // Two are admitted at once, the third waits for the oldest copy (1 s) and suspends the rule.
      expect(took).toBeGreaterThanOrEqual(900)
      expect(took).toBeLessThan(8_000)
      process.kill(b.daemon.proc.pid!, 'SIGCONT')
      await c.until(() => remotes.every((r) => existsSync(b.file(r))), 'synced after the peer resumed', 20_000)
    } finally {
      process.kill(b.daemon.proc.pid!, 'SIGCONT')
    }
  })
})
