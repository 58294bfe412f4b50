/**
 * Replication policy MultipleHosts(min) (spec §4): decides whether a fid's
 * copies are good enough and, if not, which devices should receive the next
 * copy. Pure function of the cluster view; used by the replicate job, fsck and
 * updateclass. `min` comes from `MultipleHosts(N)` in the class's replpolicy or,
 * when that is empty/`MultipleHosts()`, from the class's mindevcount.
 */
import type { DeviceRow } from '../db/types.js'
import { weightedShuffle } from '../tracker/weighted.js'

export interface PolicyInput {
  /** Devices currently holding a good copy. */
  onDevs: DeviceRow[]
  /** Every known device. */
  allDevs: DeviceRow[]
  min: number
  /** Can this device take a new copy now (alive, writeable, host alive, free space)? */
  canWrite: (d: DeviceRow) => boolean
  mbFree: (d: DeviceRow) => number
  /**
   * Should this device hold files at all (admin state alive, host alive)? Unlike
   * canWrite this ignores what the monitor observed, so a device that is only
   * temporarily unreachable still counts and the fid is retried later.
   * Absent: `status === 'alive'`.
   */
  isAlive?: (d: DeviceRow) => boolean
}

export type PolicyResult =
  | { kind: 'happy' }
  | { kind: 'too_happy' }
  | { kind: 'copy'; ideal: number[]; desperate: number[] }

/** Parse `MultipleHosts(3)` → 3; `MultipleHosts()`/empty → undefined (use mindevcount). */
export function policyMin(replpolicy: string | null | undefined): number | undefined {
  const m = /^\s*MultipleHosts\((\d*)\)\s*$/.exec(replpolicy ?? '')
  return m && m[1] ? Number(m[1]) : undefined
}

/** True when `s` is a replpolicy string we can execute. */
export function validPolicy(s: string): boolean {
  return /^\s*MultipleHosts\(\d*\)\s*$/.test(s)
}

export function multipleHosts(p: PolicyInput): PolicyResult {
  const min = Math.max(1, p.min)
  const copies = p.onDevs.length
  const onHosts = new Set(p.onDevs.map((d) => d.hostid))
  const onDevids = new Set(p.onDevs.map((d) => d.devid))
  const writable = p.allDevs.filter((d) => p.canWrite(d))
  const writableHosts = new Set(writable.map((d) => d.hostid))
  const alive = p.allDevs.filter(p.isAlive ?? ((d) => d.status === 'alive'))
  if (copies >= 1) {
    if (onHosts.size >= min || (min === 1 && copies >= 1)) {
      return copies > min && onHosts.size > min ? { kind: 'too_happy' } : { kind: 'happy' }
    }
    // Spread over every host that can take files and enough copies overall.
    const hostsAvailable = new Set([...writableHosts, ...onHosts])
    if (onHosts.size >= hostsAvailable.size && copies >= min) return { kind: 'happy' }
    // Every disk that should hold files already has one.
    if (alive.length > 0 && alive.every((d) => onDevids.has(d.devid))) return { kind: 'happy' }
  }
  const cand = writable.filter((d) => !onDevids.has(d.devid))
  const ideal = weightedShuffle(cand.filter((d) => !onHosts.has(d.hostid)), p.mbFree).map((d) => d.devid)
  const desperate = weightedShuffle(cand.filter((d) => onHosts.has(d.hostid)), p.mbFree).map((d) => d.devid)
  return { kind: 'copy', ideal, desperate }
}
