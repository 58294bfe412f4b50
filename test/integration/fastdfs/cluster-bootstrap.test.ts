/**
 * Storage lifecycle with real processes: a third storage joining a group that
 * holds 1,000 files is assigned a sync source by the tracker, goes
 * WAIT_SYNC/SYNCING → OFFLINE → ACTIVE and ends with every file byte-identical;
 * the tracker routes downloads only to storages known to hold a file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'
import { RawConn, fixedField, remoteOf, uploadBody } from '../../helpers/fdfs-raw.js'
import { runCli } from '../../helpers/proc.js'

let c: Cluster

beforeAll(async () => {
  c = await startCluster({ storages: 2, tag: 'fdfs-cluster-boot' })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
})
afterAll(async () => {
  await c?.stop()
})

describe('new storage bootstrap', () => {
  it('a third storage receives all 1,000 files and becomes ACTIVE', async () => {
    const [a, b] = c.storages
    const files = new Map<string, Buffer>()
    const conns = [await RawConn.connect(c.port, a.ip), await RawConn.connect(c.port, b.ip)]
    try {
      for (let i = 0; i < 1000; i++) {
        const d = Buffer.from(`payload ${i} `.repeat(1 + (i % 40)))
        const r = await conns[i % 2].call(11, uploadBody(d))
        expect(r.status).toBe(0)
        files.set(remoteOf(r.body), d)
      }
    } finally {
      for (const x of conns) x.destroy()
    }
    const names = [...files.keys()]
    await c.until(() => names.every((n) => existsSync(a.file(n)) && existsSync(b.file(n))), 'A and B in sync', 40_000)
    const third = await c.addStorage()
    const seen = new Set<number>()
    await c.until(
      async () => {
        const st = (await c.list()).find((s) => s.ip === third.ip)
        if (st) seen.add(st.status)
        return st?.status === 7
      },
      'third storage ACTIVE',
      45_000,
    )
    // It went through the bootstrap states (WAIT_SYNC 1 / SYNCING 2 / OFFLINE 5) and has a source.
    expect([...seen].some((s) => s === 1 || s === 2 || s === 5)).toBe(true)
    const st = (await c.list()).find((s) => s.ip === third.ip)!
    expect([a.ip, b.ip]).toContain(st.srcId)
    await c.until(() => names.every((n) => existsSync(third.file(n))), 'all files on the third storage', 20_000)
    for (const n of names) expect(readFileSync(third.file(n)).equals(files.get(n)!)).toBe(true)
    // fdfs_monitor shows the new storage ACTIVE.
    const clientConf = path.join(c.dir, 'client.conf')
    writeFileSync(clientConf, `tracker_server = 127.0.0.1:${c.trackers[0].port}\n`)
    const mon = await runCli('fdfs_monitor', [clientConf])
    expect(mon.stdout).toContain(`host = ${third.ip}:${c.port}  ACTIVE`)
    // Our tracker adds why each storage has its status and how far each replica lags.
    expect(mon.stdout).toContain('status reason = heartbeat received')
    expect(mon.stdout).toMatch(/sync to \S+ = \d+ binlog bytes behind, \d+ records behind, 0 records parked/)
    expect(mon.stdout).toMatch(new RegExp(`sync from ${a.ip.replace(/\./g, '\\.')} = .*\\(\\d+ seconds behind\\)`))
  })

  it('QUERY_FETCH_ONE right after an upload names the source storage', async () => {
    const [a] = c.storages
    const remote = await uploadTo(a.ip, c.port, Buffer.from('fresh'))
    const t = await RawConn.connect(c.trackers[0].port)
    try {
      for (let i = 0; i < 6; i++) {
        const r = await t.call(102, Buffer.concat([fixedField('group1', 16), Buffer.from(remote)]))
        expect(r.status).toBe(0)
        // group 16 + ip 15 + port 8: a fresh file goes to its source (or a storage that reported it has it).
        const ip = r.body.subarray(16, 31).toString('latin1').replace(/\0.*$/s, '')
        if (ip !== a.ip) expect(existsSync(c.storages.find((s) => s.ip === ip)!.file(remote))).toBe(true)
      }
    } finally {
      t.destroy()
    }
  })
})
