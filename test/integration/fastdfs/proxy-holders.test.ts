/**
 * Read routing never 404s on sync lag even when the file's creator cannot
 * help (issue 4 item 3): a storage lacking a file asks its creator first, then
 * the other ACTIVE members of its group, through the protocol (peer-proxy.ts)
 * and through HTTP (http-server.ts), both in holders.ts order. Three of our
 * storages and a tracker as real processes.
 *
 * How "C lags" is made deterministic: C receives the file like everyone, then
 * the test deletes C's copy. C's sender bookkeeping is untouched (its peers
 * already had the record acknowledged), so nothing re-delivers it and C is in
 * exactly the state of a replica that has not synced the file yet, for as
 * long as the test needs.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { downloadFrom, startCluster, uploadTo, type Cluster, type ClusterStorage } from '../../helpers/fdfs-cluster.js'
import { downloadBody, groupName, RawConn } from '../../helpers/fdfs-raw.js'

let c: Cluster

beforeAll(async () => {
  c = await startCluster({ storages: 3, http: true, tag: 'fdfs-proxy-holders' })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 3, 'three storages ACTIVE')
})
afterAll(async () => {
  await c?.stop()
})

/** Upload to `src`, wait until every other storage has it, then delete it on each of `lose`. */
async function spreadThenLose(src: ClusterStorage, data: Buffer, lose: ClusterStorage[]): Promise<string> {
  const remote = await uploadTo(src.ip, c.port, data)
  await c.until(() => c.storages.every((s) => existsSync(s.file(remote))), 'file on every storage')
  for (const s of lose) rmSync(s.file(remote))
  return remote
}

async function expectServedBy(reader: ClusterStorage, remote: string, data: Buffer): Promise<void> {
  const dl = await downloadFrom(reader.ip, c.port, remote)
  expect(dl.status).toBe(0)
  expect(dl.body.equals(data)).toBe(true)
  const conn = await RawConn.connect(c.port, reader.ip)
  try {
    const info = await conn.call(22, groupName('group1', remote))
    expect(info.status).toBe(0)
    expect(Number(info.body.readBigInt64BE(0))).toBe(data.length)
    expect((await conn.call(15, groupName('group1', remote))).status).toBe(0)
    // A ranged download is forwarded as is.
    const part = await conn.call(14, downloadBody('group1', remote, 3, 5))
    expect(part.status).toBe(0)
    expect(part.body.equals(data.subarray(3, 8))).toBe(true)
  } finally {
    conn.destroy()
  }
  const res = await fetch(`http://${reader.ip}:${c.httpPort}/group1/${remote}`)
  expect(res.status).toBe(200)
  expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true)
  // Proxying relays; it does not store a copy on the reader.
  expect(existsSync(reader.file(remote))).toBe(false)
}

describe('a storage lacking a file reads it from any holder', () => {
  it('creator up but without the file (answers ENOENT): the next ACTIVE member serves it', async () => {
    const [a, b, cc] = c.storages
    const data = Buffer.from('only B still has this '.repeat(40))
    const remote = await spreadThenLose(a, data, [a, cc])
    await expectServedBy(cc, remote, data)
    expect(readFileSync(b.file(remote)).equals(data)).toBe(true)
  })

  it('creator stopped: C serves the file through B; with B stopped too it is a clean not-found', async () => {
    const [a, b, cc] = c.storages
    const data = Buffer.from('replicated to B, lost on C '.repeat(4000)) // > 64 KiB: the streamed relay path
    const remote = await spreadThenLose(a, data, [cc])
    await a.daemon.stop()
    await expectServedBy(cc, remote, data)
    // The trackers learn A is down; C then asks B first and A last: still served.
    await c.until(async () => (await c.list()).find((s) => s.ip === a.ip)?.status === 5, 'A OFFLINE at the tracker')
    await expectServedBy(cc, remote, data)
    // Nobody else holds it: C answers ENOENT (2) itself, over the protocol and HTTP.
    await b.daemon.stop()
    expect((await downloadFrom(cc.ip, c.port, remote)).status).toBe(2)
    expect((await fetch(`http://${cc.ip}:${c.httpPort}/group1/${remote}`)).status).toBe(404)
  })
})
