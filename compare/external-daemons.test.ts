/**
 * The harness finds an external cluster's daemons on this machine from nothing
 * but its tracker address (FastdfsTarget/MogilefsTarget.daemonAddresses, then
 * local-pids.ts), so their CPU is sampled like ours. A cluster of ours stands
 * in for the real one: real processes, found by the addresses they listen on.
 */
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { localPids } from '../src/compare/local-pids.js'
import { FastdfsTarget, MogilefsTarget } from '../src/compare/targets.js'
import { startCluster, type Cluster } from '../src/deploy/local-cluster.js'
import { tmpDir } from '../test/helpers/proc.js'

let c: Cluster

beforeAll(async () => {
  c = await startCluster({ dir: path.join(tmpDir('compare-ext'), 'cluster'), anyPorts: true, personalities: ['fastdfs', 'mogilefs'] })
}, 60_000)

afterAll(async () => {
  await c?.stop()
})

const pidsOf = (prefix: string) => [...c.pids()].filter(([n]) => n.startsWith(prefix)).map(([, pid]) => pid).sort()

describe('external daemons on this machine', () => {
  it('FastDFS: the tracker and every storage of every group', async () => {
    const t = new FastdfsTarget('ext', [c.fastdfs!.tracker])
    try {
      const addrs = await t.daemonAddresses()
      expect(addrs.map((a) => a.name)).toEqual(['fdfs_trackerd', 'fdfs_storaged1', 'fdfs_storaged2'])
      expect([...localPids(addrs).values()].sort()).toEqual(pidsOf('fdfs'))
    } finally {
      await t.close()
    }
  })

  it('MogileFS: the tracker and the mogstored of every host', async () => {
    const m = c.mogilefs!
    const t = new MogilefsTarget('ext', [m.tracker], m.domain, m.klass)
    try {
      const addrs = await t.daemonAddresses()
      expect(addrs.map((a) => a.name)).toEqual(['mogilefsd', 'mogstored1', 'mogstored2'])
      expect([...localPids(addrs).values()].sort()).toEqual(pidsOf('mog'))
    } finally {
      await t.close()
    }
  })
})
