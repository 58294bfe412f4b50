/**
 * Sync backlog in records (issue 4 item 2): a sender reports how many binlog
 * records its peer has not acknowledged, fdfs_monitor (real CLI against the
 * real tracker) prints it next to the bytes behind, and /metrics exports it as
 * `tandem_sync_backlog_records`. The peer is held back with SIGSTOP: its
 * kernel still accepts the sync connection and buffers requests, but nothing
 * is acknowledged until SIGCONT. A second case drives one PeerSender over a
 * binlog that rotates every couple of records, across a sender restart.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Binlog } from '../../../src/engine/binlog/binlog.js'
import { parsePrometheus } from '../../../src/engine/metrics.js'
import { PeerSender } from '../../../src/personalities/fastdfs/sync/peer-sender.js'
import type { SyncSource } from '../../../src/personalities/fastdfs/sync/sender-types.js'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'
import { RawConn, remoteOf, startTestStorage, uploadBody, type TestStorage } from '../../helpers/fdfs-raw.js'
import { freePort, runCli, tmpDir } from '../../helpers/proc.js'

let c: Cluster
let metricsPort: number
const stopped = new Set<number>()

function pause(pid: number): void {
  process.kill(pid, 'SIGSTOP')
  stopped.add(pid)
}
function resume(pid: number): void {
  process.kill(pid, 'SIGCONT')
  stopped.delete(pid)
}

beforeAll(async () => {
  metricsPort = await freePort()
  c = await startCluster({ storages: 2, tag: 'fdfs-sync-backlog', storageExtra: (_, ip) => `metrics_addr = ${ip}\nmetrics_port = ${metricsPort}\n` })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
})
afterAll(async () => {
  // A stopped process cannot act on SIGTERM: let it run again before the cluster stops.
  for (const pid of [...stopped]) resume(pid)
  await c?.stop()
})

/** `sync to <peer> = <bytes> binlog bytes behind, <records> records behind, ...` from one fdfs_monitor run. */
async function monitorBacklog(conf: string, peer: string): Promise<{ bytes: number; records: number; line: string } | undefined> {
  const r = await runCli('fdfs_monitor', [conf])
  expect(r.code).toBe(0)
  const m = new RegExp(`sync to ${peer.replace(/\./g, '\\.')} = (\\d+) binlog bytes behind, (\\d+) records behind, \\d+ records parked.*`).exec(r.stdout)
  return m ? { bytes: Number(m[1]), records: Number(m[2]), line: m[0] } : undefined
}

async function scrapeBacklog(ip: string, peer: string): Promise<{ bytes?: number; records?: number }> {
  const r = await fetch(`http://${ip}:${metricsPort}/metrics`)
  const m = parsePrometheus(await r.text())
  return { bytes: m.get(`tandem_sync_backlog_bytes{peer="${peer}"}`), records: m.get(`tandem_sync_backlog_records{peer="${peer}"}`) }
}

describe('records behind', () => {
  it('fdfs_monitor and /metrics show N records behind while the peer is stopped, 0 after it resumes', async () => {
    const [a, b] = c.storages
    const conf = path.join(c.dir, 'client.conf')
    writeFileSync(conf, `tracker_server = 127.0.0.1:${c.trackers[0].port}\n`)
    const peer = `${b.ip}_${c.port}`
    // Settle first: A's sender to B has everything (the bootstrap exchange logs records too).
    await uploadTo(a.ip, c.port, Buffer.from('warm up'))
    await c.until(async () => {
      const x = await monitorBacklog(conf, peer)
      return x?.records === 0 && x.bytes === 0
    }, 'A caught up with B')
    const N = 7
    pause(b.daemon.proc.pid!)
    try {
      for (let i = 0; i < N; i++) await uploadTo(a.ip, c.port, Buffer.from(`held back ${i}`))
      let last: Awaited<ReturnType<typeof monitorBacklog>>
      await c.until(async () => (last = await monitorBacklog(conf, peer))?.records === N, `fdfs_monitor showing ${N} records behind`, 15_000)
      expect(last!.bytes).toBeGreaterThan(0)
      const met = await scrapeBacklog(a.ip, peer)
      expect(met.records).toBe(N)
      expect(met.bytes).toBe(last!.bytes)
    } finally {
      resume(b.daemon.proc.pid!)
    }
    await c.until(async () => {
      const x = await monitorBacklog(conf, peer)
      return x?.records === 0 && x.bytes === 0
    }, 'fdfs_monitor showing 0 behind after SIGCONT', 20_000)
    expect(await scrapeBacklog(a.ip, peer)).toEqual({ bytes: 0, records: 0 })
  })

  it('a sender counts right across binlog rotation and its own restart', async () => {
    const peer: TestStorage = await startTestStorage('fdfs-backlog-peer')
    const bl = await Binlog.open({ dir: tmpDir('backlog-binlog'), rotateBytes: 100 })
    const senders: PeerSender[] = []
    try {
      // A valid name on the peer: deletes of it are applied once, then answered ENOENT (= done).
      const conn = await RawConn.connect(peer.port)
      const remote = remoteOf((await conn.call(11, uploadBody(Buffer.from('victim')))).body)
      conn.destroy()
      const ts = Math.floor(Date.now() / 1000)
      const append = async (n: number) => {
        for (let i = 0; i < n; i++) await bl.append(`${ts} D ${remote}`)
      }
      const src: SyncSource = { group: 'group1', myId: '127.0.0.9', binlog: bl, open: async () => undefined, stat: async () => undefined, heartbeatMs: 1000 }
      const addr = { id: `127.0.0.1_${peer.port}`, host: '127.0.0.1', port: peer.port }
      const until = async (pred: () => boolean, what: string) => {
        for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 25))
        if (!pred()) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(senders.at(-1)?.status())}`)
      }
      const pid = peer.daemon.proc.pid!

      // 6 records over 3+ files, counted at sender start (the peer never answers while stopped).
      await append(6)
      expect(bl.end().index).toBeGreaterThanOrEqual(2)
      pause(pid)
      const s1 = new PeerSender(src, addr)
      senders.push(s1)
      s1.start()
      await until(() => s1.status().behindRecords === 6, '6 behind')
      expect(s1.status().behindBytes).toBe(bl.bytesAfter({ index: 0, offset: 0 }))
      resume(pid)
      await until(() => s1.status().behindRecords === 0 && s1.status().behindBytes === 0, 'caught up')
      const mark = bl.end()

      // Appended while running (and rotating): counted without rescanning.
      pause(pid)
      await append(5)
      await new Promise((r) => setTimeout(r, 300))
      expect(s1.status().behindRecords).toBe(5)
      expect(s1.status().behindBytes).toBe(bl.bytesAfter(mark))
      await s1.stop()

      // A new sender starts from the saved mark: 5 + 2 records after it, across files.
      await append(2)
      const s2 = new PeerSender(src, addr)
      senders.push(s2)
      s2.start()
      await until(() => s2.status().behindRecords === 7, '7 behind after restart')
      expect(s2.status().behindBytes).toBe(bl.bytesAfter(mark))
      resume(pid)
      await until(() => s2.status().behindRecords === 0 && s2.status().behindBytes === 0, 'caught up after restart')
    } finally {
      if (stopped.has(peer.daemon.proc.pid!)) resume(peer.daemon.proc.pid!)
      for (const s of senders) await s.stop()
      await bl.close()
      await peer.destroy()
    }
  })
})
