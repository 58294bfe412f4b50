/**
 * Keeps the harness from rotting: runs the quick scenario against our
 * FastDFS and MogileFS (SQLite and MariaDB) personalities as real processes
 * and checks the report is complete and internally consistent.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCompare } from '../src/compare/main.js'
import { summarize, type Report } from '../src/compare/report.js'
import { tmpDir } from '../test/helpers/proc.js'

describe('compare harness (quick scenario)', () => {
  it('measures every target and op with positive, consistent numbers and no errors', { timeout: 240_000 }, async () => {
    const out = tmpDir('compare')
    const res = await runCompare({ scenario: 'quick', quick: true, out, quiet: true }, 'test')
    expect(existsSync(path.join(res.dir, 'report.html'))).toBe(true)
    const report = JSON.parse(readFileSync(path.join(res.dir, 'report.json'), 'utf8')) as Report
    const targets = new Set(report.cells.map((c) => c.target))
    expect([...targets].sort()).toEqual(['tandem-fastdfs', 'tandem-mogilefs-mysql', 'tandem-mogilefs-sqlite'])
    for (const c of report.cells) {
      const s = summarize(c)
      const label = `${c.target} ${c.op} ${c.size} x${c.clients}`
      expect(s.errors, label).toBe(0)
      expect(s.ops, label).toBeGreaterThan(0)
      expect(s.opsPerSec.median, label).toBeGreaterThan(0)
      expect(s.p50, label).toBeGreaterThan(0)
      expect(s.p99, label).toBeGreaterThanOrEqual(s.p50)
      if (c.op !== 'delete') expect(s.bytes, label).toBe(s.ops * c.size)
      for (const r of c.reps) for (const [d, cpu] of Object.entries(r.cpu)) expect(cpu, `${label} cpu ${d}`).toBeGreaterThanOrEqual(0)
      // Replication backlog is read from the daemons' /metrics after every upload rep.
      if (c.op === 'upload') for (const r of c.reps) expect(r.replBacklog, `${label} backlog`).toBeGreaterThanOrEqual(0)
      // ...and every upload rep is timed until its last uploads had a second copy.
      if (c.op === 'upload') for (const r of c.reps) expect(r.replicatedSeconds, `${label} two copies`).toBeGreaterThanOrEqual(r.seconds)
    }
    for (const l of report.lags) {
      expect(l.errors, l.target).toBe(0)
      expect(l.samples.length, l.target).toBe(10)
      for (const v of l.samples) expect(v).toBeGreaterThan(0)
    }
    expect(res.md).toContain('| tandem-fastdfs | upload | 4 KiB | 8 |')
  })
})
