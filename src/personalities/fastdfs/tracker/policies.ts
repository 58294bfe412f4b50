/**
 * Tracker selection policies (spec §7.5): which group / storage / store path
 * an upload goes to, and which storages may serve a download or an update.
 *
 * Pure functions over TrackerState plus the small round-robin cursors kept in
 * the state; server.ts calls them per query. Failures come back as an errno
 * (ENOENT: no such group or no usable storage, ENOSPC: every candidate is
 * below reserved_storage_space, EINVAL: undecodable file name).
 */
import { reservedBytes } from '../../../engine/disk/reserved.js'
import { ERRNO, STORAGE_STATUS } from '../protocol/constants.js'
import { tryDecodeFileName } from '../file-id.js'
import type { GroupNode, StorageNode, TrackerState } from './state.js'
import type { TrackerConf } from './tracker-conf.js'

export type Picked<T> = { ok: T } | { errno: number }

const MB = 1024 * 1024

/** Does `freeMb` of `totalMb` stay above the reserved rule? (tracker_check_reserved_space) */
export function aboveReserved(conf: Pick<TrackerConf, 'reserved'>, totalMb: number, freeMb: number): boolean {
  if (totalMb <= 0) return freeMb > 0 || totalMb === 0
  const reservedMb = reservedBytes(conf.reserved, totalMb * MB) / MB
  return freeMb > reservedMb
}

/** Reserved MB for a volume of `totalMb`, as the monitor structs report it. */
export function reservedMb(conf: Pick<TrackerConf, 'reserved'>, totalMb: number): number {
  return Math.floor(reservedBytes(conf.reserved, totalMb * MB) / MB)
}

function groupHasSpace(conf: TrackerConf, g: GroupNode): boolean {
  const { totalMb, freeMb } = g.space()
  // A group whose storages have not reported disk usage yet (total 0) is not refused.
  return totalMb === 0 || aboveReserved(conf, totalMb, freeMb)
}

/**
 * The group for an upload. `requested` set = QUERY_STORE_WITH_GROUP (104/107).
 * Otherwise store_lookup: 0 round robin, 1 the configured store_group,
 * 2 the writable group with the most free space.
 */
export function pickStoreGroup(state: TrackerState, conf: TrackerConf, requested?: string): Picked<GroupNode> {
  if (state.groups.size === 0) return { errno: ERRNO.ENOENT }
  if (requested !== undefined || conf.storeLookup === 1) {
    const g = state.group(requested ?? conf.storeGroup)
    if (!g || g.writable().length === 0) return { errno: ERRNO.ENOENT }
    return groupHasSpace(conf, g) ? { ok: g } : { errno: ERRNO.ENOSPC }
  }
  const groups = state.sortedGroups()
  const candidates = groups.filter((g) => g.writable().length > 0)
  if (candidates.length === 0) return { errno: ERRNO.ENOENT }
  if (conf.storeLookup === 2) {
    let best: GroupNode | undefined
    for (const g of candidates) if (groupHasSpace(conf, g) && (!best || g.space().freeMb > best.space().freeMb)) best = g
    return best ? { ok: best } : { errno: ERRNO.ENOSPC }
  }
  const n = groups.length
  const start = state.currentWriteGroup % n
  for (let i = 0; i < n; i++) {
    const g = groups[(start + i) % n]
    if (g.writable().length === 0 || !groupHasSpace(conf, g)) continue
    state.currentWriteGroup = (start + i + 1) % n
    return { ok: g }
  }
  return { errno: ERRNO.ENOSPC }
}

/** The fixed store server for store_server 1 (first by id/ip) and 2 (lowest upload_priority). */
function fixedStoreServer(conf: TrackerConf, writable: readonly StorageNode[]): StorageNode | undefined {
  if (writable.length === 0) return undefined
  if (conf.storeServer === 2) return writable.reduce((a, b) => (b.uploadPriority < a.uploadPriority ? b : a))
  return writable[0]
}

/** The storage for a single-server upload query (101/104); advances the round-robin cursor. */
export function pickStoreServer(conf: TrackerConf, g: GroupNode): StorageNode | undefined {
  const w = g.writable()
  if (conf.storeServer !== 0) return fixedStoreServer(conf, w)
  if (w.length === 0) return undefined
  if (w.length === 1) return w[0]
  const i = g.currentWriteServer >= w.length ? 0 : g.currentWriteServer
  g.currentWriteServer = i + 1 >= w.length ? 0 : i + 1
  return w[i]
}

/**
 * The store path index to hand out for `s`: round robin (store_path 0) or the
 * path with the most free space (2); paths below their share of the reserved
 * space are skipped. Undefined = every path is full (ENOSPC).
 */
export function pickStorePath(conf: TrackerConf, s: StorageNode, pathCount: number): number | undefined {
  const n = Math.max(1, pathCount)
  const ok = (i: number) => {
    const total = s.pathTotalMb[i] ?? 0
    return total === 0 || aboveReserved(conf, total, s.pathFreeMb[i] ?? 0)
  }
  if (conf.storePath === 2) {
    let best: number | undefined
    for (let i = 0; i < n; i++) if (ok(i) && (best === undefined || (s.pathFreeMb[i] ?? 0) > (s.pathFreeMb[best] ?? 0))) best = i
    return best
  }
  const start = s.currentWritePath >= n ? 0 : s.currentWritePath
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n
    if (!ok(i)) continue
    s.currentWritePath = n > 1 ? (i + 1) % n : 0
    return i
  }
  return undefined
}

/** What the tracker needs to know about a file name to route it. */
export interface FileRouting {
  source: string
  timestamp: number
  /** Appender or slave: always served by the source. */
  sourceOnly: boolean
}

/**
 * Decode routing facts from a remote filename; undefined when it is not a FastDFS name. With
 * the group: a source that later reported an IP change (REPORT_IP_CHANGED, ip mode) is
 * followed to its new address, since the files it created live there now.
 */
export function routingOf(remote: string, g?: GroupNode): FileRouting | undefined {
  const d = tryDecodeFileName(remote)
  if (!d) return undefined
  let source = d.source
  // Why a bound: entries could (by hand-edited state) point at each other; a storage moves rarely.
  for (let hops = 0; g && hops < 8; hops++) {
    const moved = g.byWireId(source)
    if (!moved || moved.status !== STORAGE_STATUS.IP_CHANGED || !moved.movedTo) break
    source = moved.movedTo
  }
  return { source, timestamp: d.timestamp, sourceOnly: d.appender || d.slave }
}

function isSource(s: StorageNode, r: FileRouting): boolean {
  return s.id === r.source || s.ip === r.source
}

/**
 * "Known to have the file" (§7.5): it is the source, or the file is older than
 * storage_sync_file_max_delay, or the storage reported a synced timestamp from
 * that source newer than the file (or equal-ish and the file older than
 * storage_sync_file_max_time).
 */
export function knownToHave(conf: TrackerConf, s: StorageNode, r: FileRouting, nowSec: number): boolean {
  if (isSource(s, r)) return true
  if (r.timestamp < nowSec - conf.syncFileMaxDelay) return true
  const synced = s.synced.get(r.source) ?? s.lastSyncedTimestamp
  if (synced > r.timestamp) return true
  return synced + 1 >= r.timestamp && nowSec - r.timestamp > conf.syncFileMaxTime
}

/** Storages for QUERY_FETCH_ONE (102, one) / QUERY_FETCH_ALL (105, all). */
export function pickFetch(conf: TrackerConf, g: GroupNode, remote: string, all: boolean, nowSec: number): Picked<StorageNode[]> {
  const readable = g.readable()
  if (readable.length === 0) return { errno: ERRNO.ENOENT }
  const r = routingOf(remote, g)
  if (!r) return { errno: ERRNO.EINVAL }
  const src = readable.find((s) => isSource(s, r))
  if (r.sourceOnly) {
    if (src) return { ok: [src] }
    // Source gone: fall back to the fixed/first readable storage rather than failing the read.
    return { ok: [readable[0]] }
  }
  if (all) {
    const list = readable.filter((s) => knownToHave(conf, s, r, nowSec))
    return { ok: list.length ? list : [readable[0]] }
  }
  if (conf.downloadServer === 1 && src) return { ok: [src] }
  const n = readable.length
  const start = g.currentReadServer >= n ? 0 : g.currentReadServer
  for (let k = 0; k < n; k++) {
    const s = readable[(start + k) % n]
    if (knownToHave(conf, s, r, nowSec)) {
      g.currentReadServer = (start + k + 1) % n
      return { ok: [s] }
    }
  }
  return src ? { ok: [src] } : { errno: ERRNO.ENOENT }
}

/** The storage for QUERY_UPDATE (103): the source if writable, else any writable one. */
export function pickUpdate(conf: TrackerConf, g: GroupNode, remote: string): Picked<StorageNode> {
  const w = g.writable()
  if (w.length === 0) return { errno: ERRNO.ENOENT }
  const r = routingOf(remote, g)
  if (!r) return { errno: ERRNO.EINVAL }
  const src = w.find((s) => isSource(s, r))
  if (src) return { ok: src }
  const s = pickStoreServer(conf, g)
  return s ? { ok: s } : { errno: ERRNO.ENOENT }
}
