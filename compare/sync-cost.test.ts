/**
 * `tandem sync-cost` end to end on real daemons: a short run with the peer
 * running and stopped, checking that the rounds measured what they claim
 * (uploads, no errors, the stopped peer spent no CPU and then caught up, the
 * sync round did not fall behind) and that the report carries both ratios.
 */
import { describe, expect, it } from 'vitest'
import os from 'node:os'
import { cpusAllowed, formatSyncCost, runSyncCost, summarize } from '../src/compare/sync-cost.js'
import { tmpDir } from '../test/helpers/proc.js'

describe('tandem sync-cost', () => {
  it('measures uploads with the peer running and stopped, and the peer catches up', { timeout: 120_000 }, async () => {
    const o = { seconds: 1, rounds: 1, clients: 2, size: 4096, warmupSec: 0.5, settle: false, dataDir: tmpDir('sync-cost') }
    const res = await runSyncCost(o)
    expect(res.rounds.map((r) => r.mode)).toEqual(['sync', 'no-sync'])
    for (const r of res.rounds) {
      expect(r.errors, r.mode).toBe(0)
      expect(r.ops, r.mode).toBeGreaterThan(0)
      expect(r.cpu.fdfs_storaged1, r.mode).toBeGreaterThan(0)
    }
    const [sync, noSync] = res.rounds
    // B was stopped for the whole no-sync round: no CPU beyond a clock tick (it may still have been
    // finishing a request when the signal landed), and A's backlog grew.
    expect(noSync.cpu.fdfs_storaged2).toBeLessThanOrEqual(0.02)
    expect(noSync.backlogRecords).toBeGreaterThan(0)
    expect(sync.cpu.fdfs_storaged2).toBeGreaterThan(0)
    expect(res.throughputRatio).toBeGreaterThan(0)
    expect(res.cpuBoundRatio).toBeGreaterThan(0)
    const md = formatSyncCost(res, o, 'test')
    expect(md).toContain('| 1 | sync |')
    expect(md).toContain('| 1 | no-sync |')
    expect(md).toMatch(/ratio \d\.\d\d/)
  })

  it.runIf(os.cpus().length >= 2)('--pin puts A and the client on CPU 0, B and the tracker on CPU 1, and gives this process its CPUs back', { timeout: 120_000 }, async () => {
    const before = cpusAllowed(process.pid)
    const o = { seconds: 1, rounds: 1, clients: 2, size: 4096, warmupSec: 0.2, settle: false, pin: true, dataDir: tmpDir('sync-cost-pin') }
    const res = await runSyncCost(o)
    expect(res.affinity).toEqual({ fdfs_storaged1: '0', fdfs_storaged2: '1', fdfs_trackerd: '1', driver: '0' })
    for (const r of res.rounds) expect(r.ops, r.mode).toBeGreaterThan(0)
    expect(cpusAllowed(process.pid)).toBe(before)
    expect(formatSyncCost(res, o, 'test')).toContain('pinned to CPU 0')
  })

  it('summarizes medians and ratios from the rounds', () => {
    const round = (mode: 'sync' | 'no-sync', ops: number, a: number, b: number, backlog = 0) => ({ mode, ops, seconds: 1, errors: 0, cpu: { fdfs_storaged1: a, fdfs_storaged2: b, driver: 0.1 }, backlogRecords: backlog })
    const s = summarize([round('sync', 1000, 0.3, 0.2, 12), round('no-sync', 1500, 0.3, 0, 1500), round('no-sync', 1400, 0.28, 0, 1400), round('sync', 1100, 0.33, 0.22, 5)])
    expect(s.syncOpsPerSec).toBe(1050)
    expect(s.noSyncOpsPerSec).toBe(1450)
    // Per-round ratios (the two modes of a round run back to back): 1000/1500 and 1100/1400.
    expect(s.throughputRatio).toBeCloseTo((1000 / 1500 + 1100 / 1400) / 2, 5)
    expect(s.aMicrosSync).toBeCloseTo(300, 5)
    expect(s.aMicrosNoSync).toBeCloseTo(200, 5)
    expect(s.cpuBoundRatio).toBeCloseTo((200 / 300 + 200 / 300) / 2, 5)
    expect(s.bMicrosPerRecord).toBeCloseTo(200, 5)
    expect(s.worstSyncBacklog).toBe(12)
  })
})
