import { describe, expect, it } from 'vitest'
import { multipleHosts, policyMin, validPolicy } from '../../../src/personalities/mogilefs/jobs/policy.js'
import { backoffSeconds } from '../../../src/personalities/mogilefs/jobs/replicate.js'
import type { DeviceRow } from '../../../src/personalities/mogilefs/db/types.js'

const dev = (devid: number, hostid: number, status: DeviceRow['status'] = 'alive'): DeviceRow => ({ devid, hostid, status, weight: 100, mb_total: 1000, mb_used: 100 * devid, mb_asof: null })
const all = [dev(1, 1), dev(2, 2), dev(3, 2), dev(4, 3)]
const input = (on: number[], min: number, devs = all) => ({
  onDevs: devs.filter((d) => on.includes(d.devid)),
  allDevs: devs,
  min,
  canWrite: (d: DeviceRow) => d.status === 'alive',
  mbFree: (d: DeviceRow) => (d.mb_total ?? 0) - (d.mb_used ?? 0),
})

describe('MultipleHosts policy', () => {
  it('is happy when copies span min hosts', () => {
    expect(multipleHosts(input([1, 2], 2)).kind).toBe('happy')
    expect(multipleHosts(input([1], 1)).kind).toBe('happy')
  })
  it('prefers devices on hosts without a copy', () => {
    const r = multipleHosts(input([2], 2))
    expect(r.kind).toBe('copy')
    if (r.kind !== 'copy') return
    expect(r.ideal.sort()).toEqual([1, 4])
    expect(r.desperate).toEqual([3])
  })
  it('two copies on one host do not satisfy min 2 while another host can take one', () => {
    const r = multipleHosts(input([2, 3], 2))
    expect(r.kind).toBe('copy')
    if (r.kind === 'copy') expect(r.ideal.sort()).toEqual([1, 4])
  })
  it('is happy when every writable device has a copy even below min', () => {
    const one = [dev(1, 1)]
    expect(multipleHosts(input([1], 3, one)).kind).toBe('happy')
  })
  it('uses the same host when it is the only one (desperate)', () => {
    const single = [dev(1, 1), dev(2, 1)]
    const r = multipleHosts(input([1], 2, single))
    expect(r).toEqual({ kind: 'copy', ideal: [], desperate: [2] })
    expect(multipleHosts(input([1, 2], 2, single)).kind).toBe('happy')
  })
  it('reports over-replication and never suggests dead devices', () => {
    expect(multipleHosts(input([1, 2, 4], 2)).kind).toBe('too_happy')
    const devs = [dev(1, 1), dev(2, 2, 'dead'), dev(3, 3, 'down')]
    expect(multipleHosts(input([1], 2, devs)).kind).toBe('happy')
  })
  it('keeps a fid queued while an alive device is merely unreachable', () => {
    const devs = [dev(1, 1), dev(2, 2)]
    const r = multipleHosts({ ...input([1], 2, devs), canWrite: (d: DeviceRow) => d.devid === 1 })
    expect(r).toEqual({ kind: 'copy', ideal: [], desperate: [] })
  })
  it('parses policy strings', () => {
    expect(policyMin('MultipleHosts(3)')).toBe(3)
    expect(policyMin('MultipleHosts()')).toBeUndefined()
    expect(policyMin(null)).toBeUndefined()
    expect(validPolicy('MultipleHosts(2)')).toBe(true)
    expect(validPolicy('Bogus(2)')).toBe(false)
  })
  it('backs off like the reference (±20 %)', () => {
    for (let i = 0; i < 20; i++) {
      const b = backoffSeconds(0)
      expect(b).toBeGreaterThanOrEqual(12)
      expect(b).toBeLessThanOrEqual(18)
    }
    expect(backoffSeconds(50)).toBeGreaterThan(60000)
  })
})
