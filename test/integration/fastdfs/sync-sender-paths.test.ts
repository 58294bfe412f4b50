/**
 * The sync sender's two ways of shipping a create (peer-sender.ts): small files read
 * synchronously into the request buffer (SyncSource.readNow) and files sent from an opened
 * handle (SyncSource.open), in one binlog, to a real storage process. Every file must land
 * byte-identical, and a file that is gone before it is sent is skipped (counted as done,
 * nothing created on the peer).
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Binlog } from '../../../src/engine/binlog/binlog.js'
import { LARGE, LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { crc32 } from '../../../src/engine/crc32.js'
import { encodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { PeerSender } from '../../../src/personalities/fastdfs/sync/peer-sender.js'
import type { SyncSource } from '../../../src/personalities/fastdfs/sync/sender-types.js'
import { startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'
import { tmpDir } from '../../helpers/proc.js'

let peer: TestStorage
beforeAll(async () => {
  peer = await startTestStorage('fdfs-sender-paths')
})
afterAll(async () => {
  await peer?.destroy()
})

describe('sync sender: synchronous small creates and opened files in one stream', () => {
  it('ships both kinds in order, byte-identical, and skips files gone before they were sent', async () => {
    const store = await LocalBlobStore.open({ root: tmpDir('sender-paths-src') })
    const bl = await Binlog.open({ dir: tmpDir('sender-paths-binlog') })
    const ts = Math.floor(Date.now() / 1000)
    const files: Array<{ remote: string; data: Buffer; gone: boolean }> = []
    // Small (readNow), large (open), and some of each deleted before the sender starts.
    const sizes = [100, 200_000, 0, 4096, 65_537, 7, 70_000, 65_536, 12]
    const gone = new Set([3, 4])
    for (const [i, n] of sizes.entries()) {
      const data = Buffer.alloc(n, i + 1)
      const remote = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: '127.0.0.9', timestamp: ts, size: n, crc32: crc32(data), ext: 'bin' })
      const key = `data/${remote.slice(4)}`
      await store.put(key, (async function* () {
        yield data
      })(), { size: n })
      if (gone.has(i)) await store.delete(key)
      files.push({ remote, data, gone: gone.has(i) })
      await bl.append(`${ts} C ${remote}`)
    }
    const keyOf = (remote: string) => `data/${remote.slice(4)}`
    let viaNow = 0
    let viaOpen = 0
    const src: SyncSource = {
      group: 'group1',
      myId: '127.0.0.9',
      binlog: bl,
      open: async (remote, range) => {
        viaOpen++
        return store.openRead(keyOf(remote), range).catch(() => undefined)
      },
      readNow: (remote, headroom) => {
        const r = store.readSmall(keyOf(remote), undefined, headroom)
        if (r === LARGE) return null
        viaNow++
        return r
      },
      stat: async () => undefined,
      heartbeatMs: 1000,
    }
    const sender = new PeerSender(src, { id: `127.0.0.1_${peer.port}`, host: '127.0.0.1', port: peer.port })
    try {
      sender.start()
      const done = () => sender.status().sentRecords === sizes.length && sender.status().behindRecords === 0
      for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 25))
      expect(sender.status()).toMatchObject({ behindRecords: 0, parked: 0, sentRecords: sizes.length })
      expect(viaNow).toBeGreaterThan(0)
      expect(viaOpen).toBeGreaterThan(0)
      for (const f of files) {
        const onPeer = path.join(peer.dir, 'store0', 'data', f.remote.slice(4))
        if (f.gone) expect(existsSync(onPeer), f.remote).toBe(false)
        else expect(readFileSync(onPeer).equals(f.data), f.remote).toBe(true)
      }
    } finally {
      await sender.stop()
      await bl.close()
    }
  })
})
