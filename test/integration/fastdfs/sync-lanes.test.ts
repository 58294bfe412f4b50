/**
 * Several sync connections per peer (peer-sender.ts lanes, storage.conf sync_max_threads): a
 * backlog of large files is spread over more than one connection to a real storage process, small
 * records stay on the first, and the peer still sees each file's records in binlog order (a
 * create then a delete of the same file ends with no file, a create then an append ends with the
 * appended bytes, a link after its target exists). Every file lands byte-identical, the extra
 * connections close once the sender is caught up, and with one lane nothing changes.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { PeerSender } from '../../../src/personalities/fastdfs/sync/peer-sender.js'
import { startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'
import { drainSender, senderScenario, type Made } from '../../helpers/sync-sender-fixture.js'

let peer: TestStorage
beforeAll(async () => {
  peer = await startTestStorage('fdfs-sync-lanes')
})
afterAll(async () => {
  await peer?.destroy()
})

const onPeer = (remote: string) => path.join(peer.dir, 'store0', 'data', remote.slice(4))

describe('sync sender: several connections per peer', () => {
  it('spreads large files over the lanes, keeps each file in order, and closes the extra lanes when caught up', async () => {
    const { bl, ts, make, src, store, keyOf } = await senderScenario('three', 3)
    const large: Made[] = []
    const small: Made[] = []
    let records = 0
    const log = async (line: string) => {
      await bl.append(line)
      records++
    }
    // Same-file order inside one batch: created then deleted (the file is still here when the
    // create is sent, so only the order decides the outcome), while other large files keep the
    // lanes busy; created then appended.
    const doomed: Made[] = []
    for (let i = 0; i < 24; i++) {
      const f = await make(300_000 + i * 1000)
      large.push(f)
      await log(`${ts} C ${f.remote}`)
      const s = await make(100 + i)
      small.push(s)
      await log(`${ts} C ${s.remote}`)
      if (i % 2 === 1) {
        const d = await make(400_000)
        doomed.push(d)
        await log(`${ts} C ${d.remote}`)
        await log(`${ts} D ${d.remote}`)
      }
    }
    const grown = await make(350_000)
    await log(`${ts} C ${grown.remote}`)
    const tail = Buffer.alloc(5000, 0x5a)
    // Append locally after the create record: the peer gets the file as it is now, then the append
    // (answered as already applied or applied once; either way the final bytes match).
    await store.append(keyOf(grown.remote), (async function* () {
      yield tail
    })(), tail.length)
    // Links need their target on the peer first: a barrier sends it after everything before it.
    const link = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: '127.0.0.9', timestamp: ts, size: 1, crc32: 1, ext: 'lnk' })
    await log(`${ts} L ${link} ${large[0].remote}`)
    await log(`${ts} A ${grown.remote} 350000 5000`)

    const sender = new PeerSender(src, { id: `127.0.0.1_${peer.port}`, host: '127.0.0.1', port: peer.port })
    let most = 0
    try {
      sender.start()
      await drainSender(sender, records - 1, (n) => (most = Math.max(most, n)))
      expect(most, 'connections open at once').toBeGreaterThan(1)
      expect(most).toBeLessThanOrEqual(3)
      expect(sender.status().connectionsOpened).toBeGreaterThan(1)
      for (const f of [...large, ...small]) expect(readFileSync(onPeer(f.remote)).equals(f.data), f.remote).toBe(true)
      for (const d of doomed) expect(existsSync(onPeer(d.remote)), `${d.remote} created then deleted`).toBe(false)
      expect(readFileSync(onPeer(grown.remote)).equals(Buffer.concat([grown.data, tail])), 'created then appended').toBe(true)
      expect(readFileSync(onPeer(link)).equals(large[0].data), 'link after its target').toBe(true)
      // Caught up: back to one connection.
      for (let i = 0; i < 200 && sender.status().connections !== 1; i++) await new Promise((r) => setTimeout(r, 10))
      expect(sender.status().connections).toBe(1)
    } finally {
      await sender.stop()
      await bl.close()
    }
  })

  it('uses one connection when sync_max_threads is 1', async () => {
    const { bl, ts, make, src } = await senderScenario('one', 1)
    const files: Made[] = []
    for (let i = 0; i < 10; i++) {
      const f = await make(280_000)
      files.push(f)
      await bl.append(`${ts} C ${f.remote}`)
    }
    const sender = new PeerSender(src, { id: `127.0.0.1_${peer.port}_one`, host: '127.0.0.1', port: peer.port })
    let most = 0
    try {
      sender.start()
      await drainSender(sender, files.length, (n) => (most = Math.max(most, n)))
      expect(most).toBe(1)
      expect(sender.status().connectionsOpened).toBe(1)
      for (const f of files) expect(readFileSync(onPeer(f.remote)).equals(f.data), f.remote).toBe(true)
    } finally {
      await sender.stop()
      await bl.close()
    }
  })
})
