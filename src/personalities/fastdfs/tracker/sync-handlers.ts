/**
 * Tracker side of the initial-sync bootstrap of a new storage (spec §7.2 step
 * 5 and §8 "New storage bootstrap"): SYNC_NOTIFY (88), SYNC_DEST_REQ (87),
 * SYNC_DEST_QUERY (79), SYNC_SRC_REQ (86), REPORT_STATUS (76).
 *
 * This is the seam for the storage sync task: a new member of a group with
 * data gets a source here (WAIT_SYNC); the source storage drives it through
 * SYNCING to OFFLINE with 76 and the new storage's next join/beat makes it
 * ONLINE/ACTIVE (storage-handlers.ts). Called by server.ts's dispatcher.
 */
import { ERRNO, FIELD, STORAGE_STATUS } from '../protocol/constants.js'
import { getFixed } from '../protocol/header.js'
import { fail, groupField, ok, type Conn, type Reply, type TrackerCtx } from './context.js'
import { BRIEF_SIZE, decodeBrief } from './monitor-codec.js'

const S = STORAGE_STATUS
const nowSec = () => Math.floor(Date.now() / 1000)

/** 88: the storage tells us its sync source (empty src = nothing to sync → ONLINE). */
export function syncNotify(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  const s = conn.storage!
  if (body.length !== FIELD.STORAGE_ID + 8) return fail(ERRNO.EINVAL)
  const srcId = getFixed(body, 0, FIELD.STORAGE_ID - 1)
  if (!srcId) {
    if (s.status === S.INIT || s.status === S.WAIT_SYNC || s.status === S.SYNCING) ctx.state.setStatus(s, S.ONLINE, 'no sync source needed')
    return ok()
  }
  if (s.status === S.INIT) ctx.state.setStatus(s, S.WAIT_SYNC, `waiting for initial sync from ${srcId}`)
  if (!s.srcId) {
    const src = conn.group!.byWireId(srcId)
    if (!src || src.status === S.DELETED || src.status === S.IP_CHANGED) return fail(ERRNO.ENOENT)
    s.srcId = src.id
    s.syncUntil = Number(body.readBigInt64BE(FIELD.STORAGE_ID))
    ctx.state.onChange()
  }
  return ok()
}

function srcReply(src: string, until: number): Buffer {
  const out = Buffer.alloc(FIELD.STORAGE_ID + 8)
  out.write(src, 0, FIELD.STORAGE_ID - 1, 'latin1')
  out.writeBigInt64BE(BigInt(until), FIELD.STORAGE_ID)
  return ok(out)
}

/** 87: a brand-new storage asks where to sync its initial data from. */
export function syncDestReq(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  const s = conn.storage!
  const g = conn.group!
  if (body.length !== 0) return fail(ERRNO.EINVAL)
  // Only the leader assigns sync sources, so two trackers never pick different ones (leader.ts).
  if (ctx.trackers && !ctx.trackers.isLeader()) return fail(ERRNO.EBUSY)
  const candidates = g.sorted().filter((o) => o !== s && (o.status === S.OFFLINE || o.status === S.ONLINE || o.status === S.ACTIVE))
  if (candidates.length === 0) {
    ctx.state.setStatus(s, S.ONLINE, 'no peer to sync from')
    return ok()
  }
  const src = candidates.find((o) => o.status === S.ACTIVE)
  if (!src) return fail(ERRNO.ENOENT)
  const until = nowSec()
  s.srcId = src.id
  s.syncUntil = until
  ctx.state.setStatus(s, S.WAIT_SYNC, `waiting for initial sync from ${src.id}`)
  return srcReply(src.id, until)
}

/** 79: the recorded sync source of this storage, or empty. */
export function syncDestQuery(conn: Conn, body: Buffer): Reply {
  if (body.length !== 0) return fail(ERRNO.EINVAL)
  const s = conn.storage!
  return s.srcId ? srcReply(s.srcId, s.syncUntil) : ok()
}

/** 86: a source asks whether `dest` should be bootstrapped from it, and until when. */
export function syncSrcReq(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== FIELD.GROUP_NAME + FIELD.STORAGE_ID) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const dest = g.byWireId(getFixed(body, FIELD.GROUP_NAME, FIELD.STORAGE_ID - 1))
  if (!dest || dest.status === S.INIT || dest.status === S.DELETED || dest.status === S.IP_CHANGED) return fail(ERRNO.ENOENT)
  if (!dest.srcId) return ok()
  const src = g.byWireId(dest.srcId)
  if (src && (src.status === S.OFFLINE || src.status === S.ONLINE || src.status === S.ACTIVE || src.status === S.RECOVERY)) {
    return srcReply(src.id, dest.syncUntil)
  }
  dest.srcId = ''
  ctx.state.onChange()
  return ok()
}

/** 76: a source reports a peer's status (SYNCING, then OFFLINE when the initial sync is done). */
export function reportStatus(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== FIELD.GROUP_NAME + BRIEF_SIZE) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const b = decodeBrief(body, FIELD.GROUP_NAME)
  if (b.status === S.NONE) return ok()
  const t = g.byWireId(b.id, b.port)
  if (!t) return ok()
  if (t.status === b.status || t.status === S.INIT || t.status === S.ONLINE || t.status === S.ACTIVE || t.status === S.RECOVERY) return ok()
  if (b.status === S.DELETED || b.status === S.IP_CHANGED || b.status > t.status) {
    ctx.state.setStatus(t, b.status, `reported by a peer as ${b.status}`)
  }
  return ok()
}

