/**
 * Seam for the storage->storage sync SENDER (spec §8), a later task.
 *
 * What exists: every change this storage makes is a line in `store.binlog`
 * (`<ts> <op> <M00/HH/LL/name>[ extra]`, upper-case op = we are the source);
 * `Binlog.cursor(peer)` / `saveCursor` keep a durable per-peer position (mark
 * file); the tracker reporter emits 'peers' with the group membership. The
 * receiving handlers (handlers-sync.ts) are implemented.
 *
 * What the sender must do: per peer (not ourselves), read upper-case records from
 * its cursor and replay them as 16/17/18/25/35/37/19/40 requests (state based:
 * send the file as it is now; skip files that are gone; treat EEXIST as done),
 * then save the cursor. Until then `startSyncSenders` only records the peers.
 */
import type { Binlog } from '../../../engine/binlog/binlog.js'
import { logger } from '../../../log.js'
import type { FileStore } from './store.js'
import type { StorageBrief } from './tracker-reporter.js'

const log = logger('fastdfs.storage.sync')

/** One parsed binlog line. Absent fields: `extra` is '' when the line has none. */
export interface BinlogRecord {
  timestamp: number
  op: string
  name: string
  extra: string
}

/** Parse `<ts> <op> <name>[ extra]`; undefined for a malformed line. */
export function parseBinlogRecord(line: string): BinlogRecord | undefined {
  const m = /^(\d+) ([A-Za-z]) (\S+)(?: (.*))?$/.exec(line)
  if (!m) return undefined
  return { timestamp: Number(m[1]), op: m[2], name: m[3], extra: m[4] ?? '' }
}

export interface SyncSenderDeps {
  binlog: Binlog
  store: FileStore
  /** Our own identity (ip or storage id) so we skip ourselves in the peer list. */
  self: () => string
}

export interface SyncSenders {
  /** Called with every new group membership list from the trackers. */
  setPeers(peers: StorageBrief[]): void
  stop(): Promise<void>
}

/** Start (eventually) one sender per peer. Today: remembers peers and logs that sending is not implemented. */
export function startSyncSenders(deps: SyncSenderDeps): SyncSenders {
  const known = new Set<string>()
  return {
    setPeers(peers) {
      for (const p of peers) {
        const key = p.id || `${p.ip}:${p.port}`
        if (key === deps.self() || known.has(key)) continue
        known.add(key)
        log.warn({ peer: key }, 'peer storage found; sending sync is not implemented yet (files are not pushed to it)')
      }
    },
    async stop() {},
  }
}
