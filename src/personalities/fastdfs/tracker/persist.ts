/**
 * Saves and reloads the tracker state in `<base_path>/data/tracker_state.json`
 * (our own format; the real tracker's ini-style *.dat files are not read).
 *
 * Writes go to a temp file, are fsynced and renamed (writeFileAtomic), so a
 * crash leaves either the old or the new state, never a torn file. Saves are
 * debounced: many beats in a burst cost one write.
 *
 * On reload, storages that were ONLINE/ACTIVE become OFFLINE (nobody is
 * connected to a freshly started tracker - the real tracker does the same);
 * WAIT_SYNC/SYNCING/DELETED keep their status so bootstrap and deletes survive.
 * Absent file = empty cluster.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from '../../../engine/binlog/binlog.js'
import { logger } from '../../../log.js'
import { STORAGE_STATUS } from '../protocol/constants.js'
import type { RwMode } from '../storage-ids.js'
import { StorageNode, TrackerState, STAT_LONGS } from './state.js'

const log = logger('fastdfs.tracker.persist')

/** Why 200 ms: coalesces a burst of beats from many storages; small enough that a crash loses little. */
const DEBOUNCE_MS = 200

interface SavedStorage {
  key: string
  id: string
  ip: string
  port: number
  status: number
  statusReason: string
  rwMode: number
  version: string
  joinTime: number
  upTime: number
  uploadPriority: number
  storePathCount: number
  subdirCount: number
  currentWritePath: number
  pathTotalMb: number[]
  pathFreeMb: number[]
  srcId: string
  /** IP_CHANGED entries: the wire id the storage moved to (absent in older state files). */
  movedTo?: string
  /** Changelog bytes this storage has read (absent in older state files). */
  changelogOffset?: number
  syncUntil: number
  stats: { allocCount: number; currentCount: number; maxCount: number; longs: number[] }
  synced: Record<string, number>
}

interface SavedGroup {
  name: string
  storePathCount: number
  subdirCount: number
  currentTrunkFileId: number
  storages: SavedStorage[]
}

interface Saved {
  version: 1
  savedAt: number
  groups: SavedGroup[]
}

export function stateFile(basePath: string): string {
  return path.join(basePath, 'data', 'tracker_state.json')
}

function serialize(state: TrackerState): Saved {
  return {
    version: 1,
    savedAt: Math.floor(Date.now() / 1000),
    groups: state.sortedGroups().map((g) => ({
      name: g.name,
      storePathCount: g.storePathCount,
      subdirCount: g.subdirCount,
      currentTrunkFileId: g.currentTrunkFileId,
      storages: g.sorted().map((s) => ({
        key: s.key,
        id: s.id,
        ip: s.ip,
        port: s.port,
        status: s.status,
        statusReason: s.statusReason,
        rwMode: s.rwMode,
        version: s.version,
        joinTime: s.joinTime,
        upTime: s.upTime,
        uploadPriority: s.uploadPriority,
        storePathCount: s.storePathCount,
        subdirCount: s.subdirCount,
        currentWritePath: s.currentWritePath,
        pathTotalMb: s.pathTotalMb,
        pathFreeMb: s.pathFreeMb,
        srcId: s.srcId,
        movedTo: s.movedTo || undefined,
        changelogOffset: s.changelogOffset,
        syncUntil: s.syncUntil,
        stats: s.stats,
        synced: Object.fromEntries(s.synced),
      })),
    })),
  }
}

/** Load the saved state into a fresh TrackerState (empty when the file is absent). Throws on a corrupt file. Called by TrackerServer at start. */
export function loadState(basePath: string): TrackerState {
  const state = new TrackerState()
  const file = stateFile(basePath)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return state
    throw e
  }
  let saved: Saved
  try {
    saved = JSON.parse(text) as Saved
  } catch (e) {
    // Never silently start empty: the groups would be forgotten. The operator decides.
    throw new Error(`tracker state file ${file} is corrupt (${(e as Error).message}); move it away to start with an empty cluster`)
  }
  for (const sg of saved.groups ?? []) {
    const g = state.ensureGroup(sg.name)
    g.storePathCount = sg.storePathCount
    g.subdirCount = sg.subdirCount
    g.currentTrunkFileId = sg.currentTrunkFileId ?? 0
    for (const ss of sg.storages) {
      const s = new StorageNode(ss.key, ss.id, ss.ip, ss.port, sg.name)
      s.status = ss.status
      s.statusReason = ss.statusReason
      if (s.status === STORAGE_STATUS.ONLINE || s.status === STORAGE_STATUS.ACTIVE || s.status === STORAGE_STATUS.RECOVERY) {
        s.status = STORAGE_STATUS.OFFLINE
        s.statusReason = 'tracker restarted; waiting for the storage to join again'
      }
      s.rwMode = ss.rwMode as RwMode
      s.version = ss.version
      s.joinTime = ss.joinTime
      s.upTime = ss.upTime
      s.uploadPriority = ss.uploadPriority
      s.storePathCount = ss.storePathCount
      s.subdirCount = ss.subdirCount
      s.currentWritePath = ss.currentWritePath
      s.pathTotalMb = ss.pathTotalMb ?? []
      s.pathFreeMb = ss.pathFreeMb ?? []
      s.totalMb = s.pathTotalMb.reduce((a, b) => a + b, 0)
      s.freeMb = s.pathFreeMb.reduce((a, b) => a + b, 0)
      s.srcId = ss.srcId ?? ''
      s.movedTo = ss.movedTo ?? ''
      s.changelogOffset = ss.changelogOffset ?? -1
      s.syncUntil = ss.syncUntil ?? 0
      const longs = (ss.stats?.longs ?? []).slice(0, STAT_LONGS)
      while (longs.length < STAT_LONGS) longs.push(0)
      s.stats = { allocCount: ss.stats?.allocCount ?? 0, currentCount: 0, maxCount: ss.stats?.maxCount ?? 0, longs }
      s.synced = new Map(Object.entries(ss.synced ?? {}))
      g.storages.set(s.key, s)
    }
  }
  log.info({ file, groups: state.groups.size }, 'tracker state loaded')
  return state
}

/** Debounced atomic saver bound to one state. `flush()` on shutdown. */
export class StateSaver {
  private timer?: NodeJS.Timeout
  private writing: Promise<void> = Promise.resolve()
  private readonly file: string

  constructor(
    private readonly state: TrackerState,
    basePath: string,
  ) {
    this.file = stateFile(basePath)
    mkdirSync(path.dirname(this.file), { recursive: true })
    state.onChange = () => this.schedule()
  }

  schedule(): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.save()
    }, DEBOUNCE_MS)
  }

  /** Write now (serialized with any write in flight). */
  save(): Promise<void> {
    const data = JSON.stringify(serialize(this.state), null, 1)
    this.writing = this.writing
      .then(() => writeFileAtomic(this.file, data))
      .catch((e) => log.error({ err: e, file: this.file }, 'saving tracker state failed'))
    return this.writing
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    await this.save()
  }
}
