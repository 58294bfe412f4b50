/**
 * The compare harness's filesystem probes on a real temp dir: they measure
 * something positive and leave nothing behind that would skew the run (the
 * create probe keeps its files by design; the write probe removes its file).
 */
import { readdirSync, rmSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { probeCreateMicros, probeWriteMsPerMiB } from '../../../src/compare/fs-probe.js'
import { tmpDir } from '../../helpers/proc.js'

const dir = tmpDir('fs-probe')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('compare fs probes', () => {
  it('probeCreateMicros: mean µs per create+write+rename, files kept in one probe dir', () => {
    const us = probeCreateMicros(dir, 50)
    expect(us).toBeGreaterThan(0)
    expect(us).toBeLessThan(1_000_000)
    const probeDirs = readdirSync(dir).filter((n) => n.startsWith('fs-probe-'))
    expect(probeDirs).toHaveLength(1)
    expect(readdirSync(`${dir}/${probeDirs[0]}`)).toHaveLength(50)
  })

  it('probeWriteMsPerMiB: CPU ms per MiB written, probe file removed', () => {
    const before = new Set(readdirSync(dir))
    const ms = probeWriteMsPerMiB(dir, 8)
    expect(ms).toBeGreaterThan(0)
    expect(ms).toBeLessThan(1000)
    expect(readdirSync(dir).filter((n) => !before.has(n))).toEqual([])
  })
})
