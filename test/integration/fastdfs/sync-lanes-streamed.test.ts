/**
 * The sync sender's streamed body path (no sendfile: the addon is off here, as when every
 * thread-pool slot is taken by other native jobs) under several lanes. Regression: the pump
 * corked a lane for its next record while a body was still waiting for 'drain' on it; a corked
 * socket never drains, so sync stopped for good (seen at 32 clients of 1 MiB uploads).
 */
process.env.TANDEM_NO_SENDFILE = '1'

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PeerSender } from '../../../src/personalities/fastdfs/sync/peer-sender.js'
import { startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'
import { drainSender, senderScenario, type Made } from '../../helpers/sync-sender-fixture.js'

let peer: TestStorage
beforeAll(async () => {
  peer = await startTestStorage('fdfs-sync-lanes-streamed')
})
afterAll(async () => {
  await peer?.destroy()
})

describe('sync sender: streamed bodies on several lanes', () => {
  it('ships a backlog of large files with backpressure, small records in between, and never stalls', async () => {
    const { bl, ts, make, src } = await senderScenario('streamed', 2)
    const files: Made[] = []
    for (let i = 0; i < 16; i++) {
      const f = await make(1_048_576 + i)
      files.push(f)
      await bl.append(`${ts} C ${f.remote}`)
      const s = await make(500 + i)
      files.push(s)
      await bl.append(`${ts} C ${s.remote}`)
    }
    const sender = new PeerSender(src, { id: `127.0.0.1_${peer.port}`, host: '127.0.0.1', port: peer.port })
    try {
      sender.start()
      await drainSender(sender, files.length, () => {})
      for (const f of files) expect(readFileSync(path.join(peer.dir, 'store0', 'data', f.remote.slice(4))).equals(f.data), f.remote).toBe(true)
    } finally {
      await sender.stop()
      await bl.close()
    }
  })
})
