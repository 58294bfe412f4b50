/**
 * TANDEM_STORAGE_DETAIL (250), a tandemfs extension the real tracker does not
 * have: body = group 16; reply = JSON array, one object per storage of the
 * group: `{ id, ip, port, status, reason, synced: { <source id>: <ts> } }`.
 * What fdfs_monitor adds under each storage when the tracker answers it
 * ("status reason" and per-source sync progress); a real tracker answers
 * EINVAL and fdfs_monitor prints the classic output only.
 *
 * TANDEM_SYNC_PROGRESS (251), sent by our storages after each beat: JSON
 * `{ <peer>: { behindBytes, behindRecords, parked, connected, lastSyncedTimestamp } }` for
 * each peer it pushes to; kept in memory only and shown as `pushing`.
 * Called by server.ts.
 */
import { ERRNO, FIELD } from '../protocol/constants.js'
import { fail, groupField, ok, type Conn, type Reply, type TrackerCtx } from './context.js'
import type { StorageNode } from './state.js'

/** One storage's extra monitor facts (absent synced entry = never reported). */
export interface StorageDetail {
  id: string
  ip: string
  port: number
  status: number
  reason: string
  synced: Record<string, number>
  /** Progress of this storage's senders per peer (absent until it reported). */
  pushing?: Record<string, SenderProgress>
}

/** One sender's progress as a storage reports it. */
export interface SenderProgress {
  behindBytes: number
  /** Binlog records not yet acknowledged (absent from storages that predate it: left out, not 0). */
  behindRecords?: number
  parked: number
  connected: boolean
  lastSyncedTimestamp: number
}

const progressOf = new WeakMap<StorageNode, Record<string, SenderProgress>>()

/** 251: remember the reporting storage's sender progress. */
export function syncProgress(conn: Conn, body: Buffer): Reply {
  let v: unknown
  try {
    v = JSON.parse(body.toString('utf8'))
  } catch {
    return fail(ERRNO.EINVAL)
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return fail(ERRNO.EINVAL)
  const out: Record<string, SenderProgress> = {}
  for (const [k, p] of Object.entries(v as Record<string, Partial<SenderProgress>>).slice(0, FIELD.MAX_SERVERS_PER_GROUP)) {
    out[k.slice(0, 64)] = {
      behindBytes: Number(p?.behindBytes) || 0,
      ...(p?.behindRecords === undefined ? {} : { behindRecords: Number(p.behindRecords) || 0 }),
      parked: Number(p?.parked) || 0,
      connected: !!p?.connected,
      lastSyncedTimestamp: Number(p?.lastSyncedTimestamp) || 0,
    }
  }
  progressOf.set(conn.storage!, out)
  return ok()
}

export function storageDetail(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== FIELD.GROUP_NAME) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const out: StorageDetail[] = g.sorted().map((s) => ({ id: s.id, ip: s.ip, port: s.port, status: s.status, reason: s.statusReason, synced: Object.fromEntries(s.synced), pushing: progressOf.get(s) }))
  return ok(Buffer.from(JSON.stringify(out), 'utf8'))
}
