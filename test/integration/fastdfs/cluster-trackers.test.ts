/**
 * Two trackers, two storages (real processes): storages report to both,
 * both trackers name the same leader (lowest reachable ip:port, GET_LEADER 95),
 * and stopping one tracker does not interrupt uploads or downloads through
 * the other; the survivor then names itself leader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, type Cluster } from '../../helpers/fdfs-cluster.js'
import { downloadBody, fixedField, RawConn, remoteOf, uploadBody } from '../../helpers/fdfs-raw.js'

let c: Cluster

async function leaderOf(port: number): Promise<string> {
  const t = await RawConn.connect(port)
  try {
    const r = await t.call(95)
    expect(r.status).toBe(0)
    return r.body.toString('latin1')
  } finally {
    t.destroy()
  }
}

/** Upload through tracker `port` (101 → storage) and read back through it (102 → storage). */
async function roundTrip(port: number, data: Buffer): Promise<void> {
  const t = await RawConn.connect(port)
  try {
    const q = await t.call(101)
    expect(q.status).toBe(0)
    const ip = q.body.subarray(16, 31).toString('latin1').replace(/\0.*$/s, '')
    const sport = Number(q.body.readBigInt64BE(31))
    const s = await RawConn.connect(sport, ip)
    const u = await s.call(11, Buffer.concat([Buffer.of(q.body[39]), uploadBody(data).subarray(1)]))
    s.destroy()
    expect(u.status).toBe(0)
    const remote = remoteOf(u.body)
    const f = await t.call(102, Buffer.concat([fixedField('group1', 16), Buffer.from(remote)]))
    expect(f.status).toBe(0)
    const rip = f.body.subarray(16, 31).toString('latin1').replace(/\0.*$/s, '')
    const r = await RawConn.connect(Number(f.body.readBigInt64BE(31)), rip)
    const d = await r.call(14, downloadBody('group1', remote))
    r.destroy()
    expect(d.status).toBe(0)
    expect(d.body.equals(data)).toBe(true)
  } finally {
    t.destroy()
  }
}

beforeAll(async () => {
  c = await startCluster({ storages: 2, trackers: 2, tag: 'fdfs-cluster-trackers' })
  for (const i of [0, 1]) await c.until(async () => (await c.list(i)).filter((s) => s.status === 7).length === 2, `both storages ACTIVE on tracker ${i}`)
})
afterAll(async () => {
  await c?.stop()
})

describe('several trackers', () => {
  it('both trackers name the same leader: the lowest ip:port', async () => {
    const ports = c.trackers.map((t) => t.port)
    const want = `127.0.0.1:${Math.min(...ports)}`
    await c.until(async () => (await leaderOf(ports[0])) === want && (await leaderOf(ports[1])) === want, 'agreed leader')
  })

  it('uploads and downloads continue through the other tracker when one stops', async () => {
    const ports = c.trackers.map((t) => t.port)
    const leaderIdx = ports[0] < ports[1] ? 0 : 1
    const other = 1 - leaderIdx
    await roundTrip(ports[other], Buffer.from('before'))
    await c.trackers[leaderIdx].daemon.stop()
    for (let i = 0; i < 20; i++) await roundTrip(ports[other], Buffer.from(`after ${i}`))
    await c.until(async () => (await leaderOf(ports[other])) === `127.0.0.1:${ports[other]}`, 'survivor becomes leader', 15_000)
    // Storages keep beating the survivor: still ACTIVE there.
    expect((await c.list(other)).filter((s) => s.status === 7).length).toBe(2)
  })
})
