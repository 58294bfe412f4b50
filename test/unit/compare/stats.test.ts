import { describe, expect, it } from 'vitest'
import { LatencyRecorder, mean, median, percentile, spread } from '../../../src/compare/stats.js'
import { markdown, summarize, type Report } from '../../../src/compare/report.js'

describe('stats', () => {
  it('median of odd and even samples, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })

  it('percentiles interpolate between closest ranks', () => {
    const xs = Array.from({ length: 101 }, (_, i) => i)
    expect(percentile(xs, 0)).toBe(0)
    expect(percentile(xs, 99)).toBe(99)
    expect(percentile(xs, 100)).toBe(100)
    expect(percentile([10, 20], 50)).toBe(15)
    expect(percentile([10, 20], 90)).toBeCloseTo(19)
    expect(percentile([7], 99)).toBe(7)
  })

  it('spread reports median, min, max and relative range', () => {
    expect(spread([100, 90, 110])).toEqual({ median: 100, min: 90, max: 110, relRange: 0.2, n: 3 })
    expect(spread([]).n).toBe(0)
    expect(mean([1, 2, 3])).toBe(2)
  })

  it('LatencyRecorder is exact below its cap and bounded above it', () => {
    const r = new LatencyRecorder(1000)
    for (let i = 1; i <= 100; i++) r.add(i)
    expect(r.percentile(50)).toBeCloseTo(50.5)
    const big = new LatencyRecorder(100)
    for (let i = 0; i < 10_000; i++) big.add(5)
    expect(big.count).toBe(10_000)
    expect(big.percentile(99)).toBe(5)
  })
})

describe('report', () => {
  it('summarizes reps and renders a markdown table with ratios', () => {
    const rep = (ops: number) => ({ ops, bytes: ops * 4096, seconds: 2, errors: 0, p50: 1, p99: 3, cpu: { d: 0.5 }, peakRss: { d: 50 * 2 ** 20 }, machineBusySeconds: 1 })
    const r: Report = {
      startedAt: 'now',
      command: 'npm run compare',
      scenario: 'quick',
      machine: { cpus: 2, node: 'v20', memGiB: 24 },
      cells: [
        { target: 'a', op: 'upload', size: 4096, clients: 8, reps: [rep(100), rep(200), rep(300)] },
        { target: 'b', op: 'upload', size: 4096, clients: 8, reps: [rep(200), rep(400), rep(600)] },
      ],
      lags: [{ target: 'a', size: 4096, samples: [1, 2, 3], errors: 0 }],
      warnings: [],
    }
    const s = summarize(r.cells[0])
    expect(s.opsPerSec.median).toBe(100)
    expect(s.bytes).toBe(600 * 4096)
    const md = markdown(r)
    expect(md).toContain('| a | upload | 4 KiB | 8 | 100.0 [50.0–150.0]')
    expect(md).toMatch(/\| upload \| 4 KiB \| 8 \| 1\.00 \| 2\.00 \|/)
    // No rep says when its second copies existed: no two-copies section or ratio row.
    expect(md).not.toContain('Uploads with two copies')
    expect(md).not.toContain('upload (2 copies)')
    // Server CPU per op: 0.5 s of daemon CPU over 100/200/300 ops (a) and 200/400/600 ops (b).
    expect(s.serverCpuUsPerOp).toBeCloseTo(2500, 6)
    expect(md).toContain('## Server CPU per operation')
    expect(md).toMatch(/\| upload \| 4 KiB \| 8 \| 2,500 \| 1,250 \(0\.50\) \|/)
  })

  it('server CPU per op leaves the driver out and is absent without sampled daemons', () => {
    const rep = (cpu: Record<string, number>) => ({ ops: 1000, bytes: 0, seconds: 1, errors: 0, p50: 1, p99: 1, cpu, peakRss: {}, machineBusySeconds: 1 })
    const withDaemons = summarize({ target: 'a', op: 'download', size: 4096, clients: 8, reps: [rep({ t: 0.02, s: 0.08, driver: 5 })] })
    expect(withDaemons.serverCpuUsPerOp).toBeCloseTo(100, 6)
    const external = summarize({ target: 'b', op: 'download', size: 4096, clients: 8, reps: [rep({ driver: 5 })] })
    expect(external.serverCpuUsPerOp).toBeNaN()
  })

  it('charges uploads for the replication still owed when the rep ended', () => {
    const rep = (ops: number, replicatedSeconds: number) => ({ ops, bytes: ops * 4096, seconds: 2, errors: 0, p50: 1, p99: 3, cpu: {}, peakRss: {}, machineBusySeconds: 1, replicatedSeconds })
    const r: Report = {
      startedAt: 'now',
      command: 'npm run compare',
      scenario: 'x',
      machine: { cpus: 2, node: 'v20', memGiB: 24 },
      cells: [
        // a: 1,000/s acknowledged, copies 10 ms later; b: 2,000/s acknowledged, copies 2 s after the rep.
        { target: 'a', op: 'upload', size: 4096, clients: 8, reps: [rep(2000, 2.01)] },
        { target: 'b', op: 'upload', size: 4096, clients: 8, reps: [rep(4000, 4)] },
      ],
      lags: [],
      warnings: [],
    }
    const md = markdown(r)
    expect(md).toContain('## Uploads with two copies')
    expect(md).toContain('| a | 4 KiB | 8 | 1,000 | 995.0 | 4.08 | 0.01 |')
    expect(md).toContain('| b | 4 KiB | 8 | 2,000 | 1,000 | 4.10 | 2.00 |')
    expect(md).toMatch(/\| upload \| 4 KiB \| 8 \| 1\.00 \| 2\.00 \|/)
    expect(md).toMatch(/\| upload \(2 copies\) \| 4 KiB \| 8 \| 1\.00 \| 1\.00 \|/)
  })
})
