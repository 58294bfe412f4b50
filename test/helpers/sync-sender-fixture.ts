/**
 * A sync sender's source for tests that drive a PeerSender against a real storage process: a
 * LocalBlobStore and a Binlog in temp dirs, `make(n)` stores a file of n patterned bytes under a
 * FastDFS name, and `drainSender` waits until the sender has acknowledged everything.
 */
import { expect } from 'vitest'
import { Binlog } from '../../src/engine/binlog/binlog.js'
import { LARGE, LocalBlobStore } from '../../src/engine/blob/local-blob-store.js'
import { crc32 } from '../../src/engine/crc32.js'
import { encodeFileName } from '../../src/personalities/fastdfs/file-id.js'
import type { PeerSender } from '../../src/personalities/fastdfs/sync/peer-sender.js'
import type { SyncSource } from '../../src/personalities/fastdfs/sync/sender-types.js'
import { tmpDir } from './proc.js'

export type Made = { remote: string; data: Buffer }

export async function senderScenario(tag: string, lanes: number) {
  const store = await LocalBlobStore.open({ root: tmpDir(`lanes-src-${tag}`) })
  const bl = await Binlog.open({ dir: tmpDir(`lanes-binlog-${tag}`) })
  const ts = Math.floor(Date.now() / 1000)
  const keyOf = (remote: string) => `data/${remote.slice(4)}`
  let seq = 0
  const make = async (n: number): Promise<Made> => {
    const data = Buffer.alloc(n)
    for (let i = 0; i + 4 <= n; i += 4096) data.writeUInt32BE((seq * 7919 + i) >>> 0, i)
    const remote = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: '127.0.0.9', timestamp: ts, size: n + seq++, crc32: crc32(data), ext: 'bin' })
    await store.put(keyOf(remote), (async function* () {
      yield data
    })(), { size: n })
    return { remote, data }
  }
  const src: SyncSource = {
    group: 'group1',
    myId: '127.0.0.9',
    binlog: bl,
    open: async (remote, range) => store.openRead(keyOf(remote), range).catch(() => undefined),
    readNow: (remote, headroom) => {
      const r = store.readSmall(keyOf(remote), undefined, headroom)
      return r === LARGE ? null : r
    },
    stat: async () => undefined,
    heartbeatMs: 1000,
    syncLanes: lanes,
  }
  return { store, bl, ts, make, src, keyOf }
}

export async function drainSender(sender: PeerSender, records: number, sample: (n: number) => void): Promise<void> {
  const done = () => sender.status().sentRecords >= records && sender.status().behindRecords === 0
  for (let i = 0; i < 2000 && !done(); i++) {
    sample(sender.status().connections)
    await new Promise((r) => setTimeout(r, 5))
  }
  expect(sender.status()).toMatchObject({ behindRecords: 0, parked: 0 })
}

