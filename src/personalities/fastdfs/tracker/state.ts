/**
 * The tracker's in-memory view of the cluster: groups, their storages, status,
 * disk usage, counters from the BEAT stats block and per-peer synced timestamps.
 *
 * Storages are keyed by storage id with `use_storage_id`, else by `ip:port`
 * (the real tracker keys by IP alone and silently merges two storages on one
 * host - spec §12.2; we do not). The wire "id" of a storage in ip mode is its
 * IP, as the real storages expect, so two storages on one IP share a wire id;
 * lookups by wire id then prefer the connection's own host.
 *
 * Every status change records a human-readable reason for operators
 * (fdfs_trackerd logs it; persist.ts saves it).
 *
 * Owned by server.ts (mutations) and policies.ts (read-only selection).
 */
import { STORAGE_STATUS, STORAGE_STATUS_NAME } from '../protocol/constants.js'
import { RW_MODE, type RwMode } from '../storage-ids.js'
import { logger } from '../../../log.js'

const log = logger('fastdfs.tracker.state')

/** Number of 8-byte counters in the 348-byte stats block (after the 3 x 4-byte connection counts). */
export const STAT_LONGS = 42
/** Indexes of the trailing timestamps inside the 42 counters. */
export const STAT_IDX = { LAST_SOURCE_UPDATE: 38, LAST_SYNC_UPDATE: 39, LAST_SYNCED_TIMESTAMP: 40, LAST_HEART_BEAT_TIME: 41 } as const

export interface StorageStats {
  allocCount: number
  currentCount: number
  maxCount: number
  /** The 42 counters in wire order (see §9.1); timestamps at STAT_IDX. */
  longs: number[]
}

/** One storage as the tracker knows it (created on its first JOIN or from the saved state). */
export class StorageNode {
  status: number = STORAGE_STATUS.INIT
  statusReason = 'created'
  rwMode: RwMode = RW_MODE.BOTH
  version = ''
  joinTime = 0
  upTime = 0
  uploadPriority = 10
  storePathCount = 1
  subdirCount = 256
  currentWritePath = 0
  pathTotalMb: number[] = []
  pathFreeMb: number[] = []
  totalMb = 0
  freeMb = 0
  /** Storage this one was bootstrapped from (wire id), '' when none. */
  srcId = ''
  /** IP_CHANGED entries: the wire id (new IP) the storage reported moving to; '' otherwise. */
  movedTo = ''
  /** How far this storage has read the tracker's changelog (changelog.ts); -1 = not yet known (start at its end). */
  changelogOffset = -1
  syncUntil = 0
  stats: StorageStats = { allocCount: 0, currentCount: 0, maxCount: 0, longs: new Array(STAT_LONGS).fill(0) }
  /** Date.now() of the last BEAT/DISK_USAGE/SYNC_REPORT we received (0 = never). */
  lastHeardMs = 0
  /** Observed heartbeat interval in ms (learned from consecutive beats), for offline detection. */
  beatIntervalMs = 0
  /** Group change counter value this storage was last told about (change-flags reply). */
  seenChgCount = -1
  /** Per-source wire id → last synced source timestamp this storage reported (SYNC_REPORT). */
  synced = new Map<string, number>()
  /** True while a joined connection is open. */
  connected = false

  constructor(
    readonly key: string,
    /** Wire id: storage id, or the IP in ip mode. */
    readonly id: string,
    public ip: string,
    public port: number,
    readonly group: string,
  ) {}

  get statusName(): string {
    return STORAGE_STATUS_NAME[this.status] ?? String(this.status)
  }

  get readable(): boolean {
    return this.status === STORAGE_STATUS.ACTIVE && (this.rwMode & RW_MODE.READ) !== 0
  }

  get writable(): boolean {
    return this.status === STORAGE_STATUS.ACTIVE && (this.rwMode & RW_MODE.WRITE) !== 0
  }

  get lastSyncedTimestamp(): number {
    return this.stats.longs[STAT_IDX.LAST_SYNCED_TIMESTAMP]
  }
}

/** What the cached member lists depend on besides membership: port, status and rw mode in one number. */
function markOf(s: StorageNode): number {
  return s.port * 0x10000 + s.status * 0x100 + s.rwMode
}

/** A group and its members; created on the first JOIN naming it. */
export class GroupNode {
  readonly storages = new Map<string, StorageNode>()
  storePathCount = 0
  subdirCount = 0
  /** Bumped on every membership/status change; storages compare it with their seenChgCount. */
  chgCount = 0
  currentWriteServer = 0
  currentReadServer = 0
  currentTrunkFileId = 0

  constructor(readonly name: string) {}

  /**
   * sorted/writable/readable as of the members' last seen (port, status, rw mode).
   * Why a cache: every client query asks for these lists several times (the store
   * policy, the group's free space, the fetch policy), while they change only
   * when a storage joins, leaves or changes status: rebuilding them per query was
   * a measurable share of the tracker's CPU per request.
   */
  private view?: { members: StorageNode[]; marks: number[]; sorted: StorageNode[]; writable: StorageNode[]; readable: StorageNode[] }

  private current(): NonNullable<GroupNode['view']> {
    const v = this.view
    if (v && v.members.length === this.storages.size && this.unchanged(v)) return v
    const sorted = [...this.storages.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.port - b.port))
    const fresh = {
      members: sorted,
      marks: sorted.map(markOf),
      sorted,
      writable: sorted.filter((s) => s.writable),
      readable: sorted.filter((s) => s.readable),
    }
    this.view = fresh
    return fresh
  }

  private unchanged(v: NonNullable<GroupNode['view']>): boolean {
    for (let i = 0; i < v.members.length; i++) {
      const s = v.members[i]
      if (v.marks[i] !== markOf(s) || this.storages.get(s.key) !== s) return false
    }
    return true
  }

  /** Members sorted by wire id then port (the C code's sorted_servers order). Shared: do not mutate. */
  sorted(): readonly StorageNode[] {
    return this.current().sorted
  }

  /** Writable members in sorted order. Shared: do not mutate. */
  writable(): readonly StorageNode[] {
    return this.current().writable
  }

  /** Readable members in sorted order. Shared: do not mutate. */
  readable(): readonly StorageNode[] {
    return this.current().readable
  }

  /** The group's port, or -1 when members listen on different ports (as fdfs_monitor shows). */
  get port(): number {
    let p: number | undefined
    for (const s of this.storages.values()) {
      if (p === undefined) p = s.port
      else if (p !== s.port) return -1
    }
    return p ?? 0
  }

  /** Total/free MB of the group = those of the writable member with the least free space. */
  space(): { totalMb: number; freeMb: number } {
    let best: StorageNode | undefined
    for (const s of this.writable()) if (!best || s.freeMb < best.freeMb) best = s
    if (!best) {
      // No writable member: show the best we know so operators still see numbers.
      for (const s of this.storages.values()) if (s.totalMb && (!best || s.freeMb < best.freeMb)) best = s
    }
    return { totalMb: best?.totalMb ?? 0, freeMb: best?.freeMb ?? 0 }
  }

  /** Find a member by wire id; with several (same IP, ip mode) prefer `preferIp:port`. */
  byWireId(id: string, preferPort?: number): StorageNode | undefined {
    let found: StorageNode | undefined
    for (const s of this.storages.values()) {
      if (s.id !== id) continue
      if (preferPort === undefined || s.port === preferPort) return s
      found ??= s
    }
    return found
  }
}

/** All groups; one per tracker process (server.ts), saved by persist.ts. */
export class TrackerState {
  readonly groups = new Map<string, GroupNode>()
  /** Index for store_lookup round robin. */
  currentWriteGroup = 0
  /** Set by persist.ts; called (debounced there) after every change worth saving. */
  onChange: () => void = () => {}

  /** Groups sorted by name (the C code's sorted_groups). */
  sortedGroups(): GroupNode[] {
    return [...this.groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** The group called `name`, or undefined. */
  group(name: string): GroupNode | undefined {
    return this.groups.get(name)
  }

  /** The group called `name`, created when absent. */
  ensureGroup(name: string): GroupNode {
    let g = this.groups.get(name)
    if (!g) {
      g = new GroupNode(name)
      this.groups.set(name, g)
      log.info({ group: name }, 'group created')
    }
    return g
  }

  /**
   * Change a storage's status with a reason (logged, kept for operators) and
   * bump the group's change counter so peers hear about it on their next beat.
   */
  setStatus(s: StorageNode, status: number, reason: string): void {
    if (s.status === status) {
      s.statusReason = reason
      return
    }
    log.info({ group: s.group, storage: s.key, from: s.statusName, to: STORAGE_STATUS_NAME[status], reason }, 'storage status changed')
    s.status = status
    s.statusReason = reason
    const g = this.groups.get(s.group)
    if (g) g.chgCount++
    this.onChange()
  }

  /**
   * Mark storages OFFLINE that have a closed connection or whose heartbeats
   * stopped. Why "3 beats" with a floor of 5 s and a cap of check_active_interval:
   * one lost beat is noise, three in a row is a dead storage; the floor keeps a
   * fast-beating test storage from flapping on a GC pause; the cap matches the
   * real tracker's worst case. Returns the storages that changed.
   */
  checkActive(nowMs: number, capSeconds: number): StorageNode[] {
    const changed: StorageNode[] = []
    for (const g of this.groups.values()) {
      for (const s of g.storages.values()) {
        if (s.status !== STORAGE_STATUS.ACTIVE && s.status !== STORAGE_STATUS.ONLINE) continue
        if (!s.lastHeardMs) continue
        const limitMs = Math.min(capSeconds * 1000, Math.max(5000, 3 * (s.beatIntervalMs || capSeconds * 1000)))
        const silentMs = nowMs - s.lastHeardMs
        if (silentMs > limitMs) {
          this.setStatus(s, STORAGE_STATUS.OFFLINE, `no heartbeat for ${Math.round(silentMs / 1000)}s`)
          changed.push(s)
        }
      }
    }
    return changed
  }
}
