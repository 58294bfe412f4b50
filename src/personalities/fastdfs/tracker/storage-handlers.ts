/**
 * Tracker commands sent by storage servers (spec §7.2-7.3): GET_MY_IP (60),
 * PARAMETER_REQ (75), CHANGELOG_REQ (77), JOIN (81), BEAT (83), DISK_USAGE
 * (84), SYNC_REPORT (89), CHANGE_STATUS (59), FETCH_STORAGE_IDS (69),
 * GET_SERVER_ID (70), GET_STATUS (71), REPORT_IP_CHANGED (78). The bootstrap commands (86/87/88/79/76)
 * live in sync-handlers.ts. Called by server.ts's dispatcher; each returns
 * the full reply bytes.
 */
import { ERRNO, FIELD, STORAGE_STATUS } from '../protocol/constants.js'
import { getFixed } from '../protocol/header.js'
import { logger } from '../../../log.js'
import { findStorageId, findStorageIdByAddr, RW_MODE, rwModeName } from '../storage-ids.js'
import { fail, groupField, leaderOf, ok, selfIp, type Conn, type Reply, type TrackerCtx } from './context.js'
import { BRIEF_SIZE, decodeStatsBlock, encodeBrief, STATS_BLOCK_SIZE } from './monitor-codec.js'
import { StorageNode, STAT_IDX, type GroupNode } from './state.js'
import { parseJoin } from './join-body.js'

const log = logger('fastdfs.tracker.storage')
const S = STORAGE_STATUS
const nowSec = () => Math.floor(Date.now() / 1000)

/** 75: the settings storages must share with the tracker, as `key=value\n` text (same keys and order as V6.16.1). */
export function parameterReq(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== 0) return fail(ERRNO.EINVAL)
  const c = ctx.conf
  const b = (v: boolean) => (v ? 1 : 0)
  const text =
    `use_storage_id=${b(c.useStorageId)}\n` +
    `id_type_in_filename=${c.idTypeInFilename}\n` +
    `trust_storage_server_id=${b(c.trustStorageServerId)}\n` +
    `response_ip_addr_size=${c.responseIpAddrSize === 'auto' ? 16 : c.responseIpAddrSize}\n` +
    `storage_ip_changed_auto_adjust=${b(c.storageIpChangedAutoAdjust)}\n` +
    `storage_sync_file_max_delay=${c.syncFileMaxDelay}\n` +
    `store_path=${c.storePath}\n` +
    `reserved_storage_space=${c.reservedText}\n` +
    `use_trunk_file=0\nslot_min_size=256\nslot_max_size=1048576\ntrunk_alloc_alignment_size=256\n` +
    `trunk_file_size=67108864\ntrunk_create_file_advance=0\ntrunk_create_file_time_base=02:00\n` +
    `trunk_create_file_interval=86400\ntrunk_create_file_space_threshold=21474836480\n` +
    `trunk_init_check_occupying=0\ntrunk_init_reload_from_binlog=0\ntrunk_free_space_merge=1\n` +
    `delete_unused_trunk_files=0\ntrunk_compress_binlog_min_interval=86400\ntrunk_compress_binlog_interval=86400\n` +
    `trunk_compress_binlog_time_base=03:00\ntrunk_binlog_max_backups=7\n` +
    `store_slave_file_use_link=${b(c.storeSlaveFileUseLink)}\n`
  return ok(Buffer.from(text, 'latin1'))
}

/** 60: the caller's IP as we see it. Body: group 17 + port 4. */
export function getMyIp(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  if (body.length !== FIELD.GROUP_NAME + 1 + 4) return fail(ERRNO.EINVAL)
  if (ctx.conf.useStorageId) {
    const e = findStorageIdByAddr(ctx.conf.storageIds, conn.peerIp, body.readInt32BE(17), groupField(body))
    if (e) return ok(Buffer.from(e.ip, 'latin1'))
  }
  return ok(Buffer.from(conn.peerIp, 'latin1'))
}

/**
 * 77: the changelog lines this storage has not read yet (changelog.ts), then its offset moves to
 * the end. Asked on the joined connection (empty body) or on a fresh one (group 16 + storage id 16,
 * ENOENT for an unknown group or storage), like the real tracker.
 */
export function changelogReq(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  let s: StorageNode | undefined
  if (conn.storage) {
    if (body.length !== 0) return fail(ERRNO.EINVAL)
    s = conn.storage
  } else {
    if (body.length !== FIELD.GROUP_NAME + FIELD.STORAGE_ID) return fail(ERRNO.EINVAL)
    const g = ctx.state.group(groupField(body))
    if (!g) return fail(ERRNO.ENOENT)
    s = g.byWireId(getFixed(body, FIELD.GROUP_NAME, FIELD.STORAGE_ID - 1))
    if (!s) return fail(ERRNO.ENOENT)
  }
  const cl = ctx.changelog
  if (!cl) return ok()
  const end = cl.size()
  if (s.changelogOffset < 0 || s.changelogOffset > end) s.changelogOffset = end
  const out = cl.readFrom(s.changelogOffset)
  if (out.length) {
    s.changelogOffset += out.length
    ctx.state.onChange()
  }
  return ok(out)
}

/** 81: register (or re-register) the storage behind this connection. */
export function join(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  const j = parseJoin(body)
  if ('errno' in j) {
    log.warn({ peer: conn.peerIp, why: j.why }, 'bad STORAGE_JOIN')
    return fail(j.errno)
  }
  let key: string
  let id: string
  let rwMode: number | undefined
  if (ctx.conf.useStorageId) {
    const e =
      (ctx.conf.trustStorageServerId && j.storageId ? findStorageId(ctx.conf.storageIds, j.storageId) : undefined) ??
      findStorageIdByAddr(ctx.conf.storageIds, conn.peerIp, j.port, j.group)
    if (!e) {
      log.warn({ peer: conn.peerIp, port: j.port, id: j.storageId }, 'joining storage not in storage_ids')
      return fail(ERRNO.ENOENT)
    }
    if (e.group !== j.group) return fail(ERRNO.EINVAL)
    key = id = e.id
    rwMode = e.rwMode
  } else {
    key = `${conn.peerIp}:${j.port}`
    id = conn.peerIp
  }
  const { state } = ctx
  ctx.trackers?.learn(j.trackers)
  const existing = state.group(j.group)
  if (existing) {
    if (existing.storePathCount && existing.storePathCount !== j.storePathCount && existing.storages.size > 0) return fail(ERRNO.EINVAL)
    if (existing.subdirCount && existing.subdirCount !== j.subdirCount && existing.storages.size > 0) return fail(ERRNO.EINVAL)
  } else if (state.groups.size >= FIELD.MAX_GROUPS) return fail(ERRNO.ENOSPC)
  const g = state.ensureGroup(j.group)
  if (!g.storePathCount) g.storePathCount = j.storePathCount
  if (!g.subdirCount) g.subdirCount = j.subdirCount
  let s = g.storages.get(key)
  const inserted = !s
  if (!s) {
    if (g.storages.size >= FIELD.MAX_SERVERS_PER_GROUP) return fail(ERRNO.ENOSPC)
    s = new StorageNode(key, id, conn.peerIp, j.port, g.name)
    s.changelogOffset = ctx.changelog?.size() ?? 0
    g.storages.set(key, s)
    g.chgCount++
    if (!j.initFlag && j.status > 0 && j.status !== S.NONE) {
      // A storage that already has data and tells us its last status (tracker lost its state).
      state.setStatus(s, j.status === S.ACTIVE ? S.ONLINE : j.status, 'joined with a known status')
    } else state.setStatus(s, S.INIT, 'new storage joined')
  }
  s.ip = conn.peerIp
  if (rwMode !== undefined) s.rwMode = rwMode as typeof s.rwMode
  s.version = j.version
  s.joinTime = j.joinTime > 0 ? j.joinTime : s.joinTime || nowSec()
  s.upTime = j.upTime
  s.uploadPriority = j.uploadPriority
  s.storePathCount = j.storePathCount
  s.subdirCount = j.subdirCount
  if (s.pathTotalMb.length !== j.storePathCount) {
    s.pathTotalMb = new Array(j.storePathCount).fill(0)
    s.pathFreeMb = new Array(j.storePathCount).fill(0)
  }
  if (s.status === S.OFFLINE || s.status === S.RECOVERY || s.status === S.DELETED) state.setStatus(s, S.ONLINE, 'joined')
  else if (s.status === S.INIT && !hasOtherDataHolder(g, s)) {
    // First storage of its group: nothing to sync from (what SYNC_DEST_REQ would decide anyway).
    state.setStatus(s, S.ONLINE, 'joined as the first storage of its group')
  }
  conn.storage = s
  conn.group = g
  s.connected = true
  s.lastHeardMs = Date.now()
  s.seenChgCount = -1
  if (inserted) log.info({ group: g.name, storage: key, status: s.statusName }, 'storage joined the cluster')
  state.onChange()
  const out = Buffer.alloc(1 + FIELD.STORAGE_ID)
  out[0] = s.status
  out.write(s.srcId, 1, FIELD.STORAGE_ID - 1, 'latin1')
  return ok(out)
}

function hasOtherDataHolder(g: GroupNode, self: StorageNode): boolean {
  for (const o of g.storages.values()) if (o !== self && (o.status === S.OFFLINE || o.status === S.ONLINE || o.status === S.ACTIVE)) return true
  return false
}

/** ONLINE/OFFLINE → ACTIVE on a beat (tracker_mem_active_store_server); bootstrap states are left alone. */
function activate(ctx: TrackerCtx, s: StorageNode): void {
  if (s.status === S.WAIT_SYNC || s.status === S.SYNCING || s.status === S.IP_CHANGED || s.status === S.INIT || s.status === S.DELETED) return
  if (s.status !== S.ACTIVE) ctx.state.setStatus(s, S.ACTIVE, 'heartbeat received')
}

function heard(s: StorageNode): void {
  const now = Date.now()
  if (s.lastHeardMs) {
    const d = now - s.lastHeardMs
    // Learn the beat interval as a smoothed max so offline detection follows the storage's own setting.
    if (d > 200) s.beatIntervalMs = s.beatIntervalMs ? Math.max(d, Math.round(s.beatIntervalMs * 0.8 + d * 0.2)) : d
  }
  s.lastHeardMs = now
}

/**
 * The change-flags reply (§7.3): flag 1 + our brief the first time on this
 * connection (leader), flag 4 + one brief per group member when the group
 * changed since this storage last heard.
 */
export function changeFlags(ctx: TrackerCtx, conn: Conn & { leaderSent?: boolean }): Buffer {
  const s = conn.storage!
  const g = conn.group!
  let flags = 0
  const briefs: Array<{ status: number; port: number; id: string; ip: string }> = []
  if (!conn.leaderSent) {
    flags |= 1
    const l = leaderOf(ctx, conn)
    briefs.push({ status: 0, port: l.port, id: l.ip, ip: l.ip })
    conn.leaderSent = true
  }
  if (s.seenChgCount !== g.chgCount) {
    flags |= 4
    for (const m of g.sorted()) briefs.push({ status: m.status, port: m.port, id: m.id, ip: m.ip })
    s.seenChgCount = g.chgCount
  }
  const out = Buffer.alloc(1 + briefs.length * BRIEF_SIZE)
  out[0] = flags
  briefs.forEach((b, i) => encodeBrief(b, out, 1 + i * BRIEF_SIZE))
  return ok(out)
}

/** 83: heartbeat, empty or with the 348-byte stats block. */
export function beat(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  const s = conn.storage!
  if (body.length !== 0 && body.length !== STATS_BLOCK_SIZE) return fail(ERRNO.EINVAL)
  if (body.length) {
    const st = decodeStatsBlock(body)
    // last_synced_timestamp and last_heart_beat_time are ours (SYNC_REPORT / clock), not the storage's.
    st.longs[STAT_IDX.LAST_SYNCED_TIMESTAMP] = s.stats.longs[STAT_IDX.LAST_SYNCED_TIMESTAMP]
    s.stats = st
  }
  activate(ctx, s)
  s.stats.longs[STAT_IDX.LAST_HEART_BEAT_TIME] = nowSec()
  heard(s)
  return changeFlags(ctx, conn)
}

/** 84: per store path total_mb 8 + free_mb 8. */
export function diskUsage(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  const s = conn.storage!
  const g = conn.group!
  if (body.length !== 16 * g.storePathCount) return fail(ERRNO.EINVAL)
  let total = 0
  let free = 0
  for (let i = 0; i < g.storePathCount; i++) {
    s.pathTotalMb[i] = Number(body.readBigInt64BE(i * 16))
    s.pathFreeMb[i] = Number(body.readBigInt64BE(i * 16 + 8))
    total += s.pathTotalMb[i]
    free += s.pathFreeMb[i]
  }
  s.totalMb = total
  s.freeMb = free
  activate(ctx, s)
  heard(s)
  return changeFlags(ctx, conn)
}

/** 89: per source peer, storage id 16 + last synced source timestamp 4. */
export function syncReport(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  const s = conn.storage!
  const g = conn.group!
  if (body.length === 0 || body.length % (FIELD.STORAGE_ID + 4) !== 0) return fail(ERRNO.EINVAL)
  let min = 0
  let max = s.lastSyncedTimestamp
  for (let p = 0; p < body.length; p += FIELD.STORAGE_ID + 4) {
    const ts = body.readInt32BE(p + FIELD.STORAGE_ID)
    if (ts <= 0) continue
    const srcId = getFixed(body, p, FIELD.STORAGE_ID - 1)
    const src = g.byWireId(srcId)
    if (!src || src === s || src.status !== S.ACTIVE) continue
    s.synced.set(src.id, ts)
    if (!min || ts < min) min = ts
    if (ts > max) max = ts
  }
  if (ctx.conf.storeServer === 0) {
    if (min > 0) s.stats.longs[STAT_IDX.LAST_SYNCED_TIMESTAMP] = min
  } else s.stats.longs[STAT_IDX.LAST_SYNCED_TIMESTAMP] = max
  heard(s)
  ctx.state.onChange()
  return changeFlags(ctx, conn)
}

const available = (st: number) => st === S.ONLINE || st === S.ACTIVE

/** 59: the storage changes its own status (ONLINE/ACTIVE requests become OFFLINE, as upstream). */
export function changeStatus(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  if (body.length !== 1) return fail(ERRNO.EINVAL)
  const s = conn.storage!
  let st = body[0]
  if (s.status === st || (available(s.status) && available(st))) return ok()
  if (available(st)) st = S.OFFLINE
  ctx.state.setStatus(s, st, 'requested by the storage')
  return ok()
}

/** 69: storage_ids.conf lines, paged by start_index. */
export function fetchStorageIds(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== 5) return fail(ERRNO.EINVAL)
  if (!ctx.conf.useStorageId) return body[4] ? ok(Buffer.alloc(8)) : fail(ERRNO.EOPNOTSUPP)
  const ids = [...ctx.conf.storageIds].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const start = body.readInt32BE(0)
  if (start < 0 || start >= ids.length) return fail(ERRNO.EINVAL)
  const lines: string[] = []
  let size = 8
  // Page like the real tracker: stop before the reply outgrows its buffer (we use the 256 KB control cap).
  for (let i = start; i < ids.length && size < 256 * 1024 - 128; i++) {
    const e = ids[i]
    const ip = e.ip.includes(':') ? `[${e.ip}]` : e.ip
    const rw = e.rwMode === RW_MODE.BOTH ? '' : ` rw=${rwModeName(e.rwMode)}`
    const line = `${e.id} ${e.group} ${ip}${e.port ? `:${e.port}` : ''}${rw}\n`
    lines.push(line)
    size += Buffer.byteLength(line)
  }
  const head = Buffer.alloc(8)
  head.writeInt32BE(ids.length, 0)
  head.writeInt32BE(lines.length, 4)
  return ok(Buffer.concat([head, Buffer.from(lines.join(''), 'latin1')]))
}

function ipPort(body: Buffer): { group: string; ip: string; port: number } | undefined {
  if (body.length <= FIELD.GROUP_NAME || body.length > FIELD.GROUP_NAME + 64) return undefined
  const text = getFixed(body, FIELD.GROUP_NAME, body.length - FIELD.GROUP_NAME)
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text)
  if (!m) return undefined
  return { group: groupField(body), ip: m[1], port: Number(m[2]) }
}

/** 70: storage id of `ip:port` in a group (the IP itself without storage ids). */
export function getServerId(ctx: TrackerCtx, body: Buffer): Reply {
  const a = ipPort(body)
  if (!a) return fail(ERRNO.EINVAL)
  if (!ctx.conf.useStorageId) return ok(Buffer.from(a.ip, 'latin1'))
  const e = findStorageIdByAddr(ctx.conf.storageIds, a.ip, a.port, a.group)
  return e ? ok(Buffer.from(e.id, 'latin1')) : fail(ERRNO.ENOENT)
}

/** 71: the brief (status, port, id, ip) of `ip:port` in a group. */
export function getStatus(ctx: TrackerCtx, body: Buffer): Reply {
  const a = ipPort(body)
  if (!a) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(a.group)
  if (!g) return fail(ERRNO.ENOENT)
  const s = [...g.storages.values()].find((x) => x.ip === a.ip && x.port === a.port)
  if (!s) return fail(ERRNO.ENOENT)
  const out = Buffer.alloc(BRIEF_SIZE)
  encodeBrief({ status: s.status, port: s.port, id: s.id, ip: s.ip }, out, 0)
  return ok(out)
}

/**
 * 78: a storage in ip mode restarted with another IP (`storage_ip_changed_auto_adjust`, on by
 * default) reports `group 16 + old ip 46 + new ip 46` on a fresh connection before it joins. As
 * the real tracker does: the old entry's state (status, counters, sync progress) moves to the new
 * IP and the old IP stays listed as IP_CHANGED, so peers stop syncing to it. The real storaged
 * retries this request every second until it gets 0, EALREADY, ENOENT, EEXIST or EBUSY, so an
 * unknown-command answer here would keep it from ever starting. Not in id mode (ids do not
 * change with the address: EOPNOTSUPP, which storages in id mode never ask).
 */
export function ipChanged(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  if (ctx.conf.useStorageId) return fail(ERRNO.EOPNOTSUPP)
  if (body.length !== FIELD.GROUP_NAME + 2 * FIELD.IP_ADDRESS_FULL) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const oldIp = getFixed(body, FIELD.GROUP_NAME, FIELD.IP_ADDRESS_FULL - 1)
  const newIp = getFixed(body, FIELD.GROUP_NAME + FIELD.IP_ADDRESS_FULL, FIELD.IP_ADDRESS_FULL - 1)
  // Only the storage itself may say it moved: the new address must be the one it connects from.
  if (newIp !== conn.peerIp) {
    log.warn({ peer: conn.peerIp, group: g.name, oldIp, newIp }, 'ip changed report: new ip is not the caller\'s address')
    return fail(ERRNO.EINVAL)
  }
  const old = g.byWireId(oldIp)
  if (!old || old.status === S.DELETED) return fail(ERRNO.ENOENT)
  if (old.status === S.ONLINE || old.status === S.ACTIVE || old.status === S.RECOVERY) return fail(ERRNO.EBUSY)
  if (old.status === S.IP_CHANGED) return fail(ERRNO.EALREADY)
  const existing = g.byWireId(newIp, old.port)
  if (existing && existing.status !== S.DELETED) return fail(ERRNO.EEXIST)
  const moved = new StorageNode(`${newIp}:${old.port}`, newIp, newIp, old.port, g.name)
  // Everything the tracker learned about the storage goes with it to its new address.
  for (const k of ['status', 'statusReason', 'rwMode', 'version', 'joinTime', 'upTime', 'uploadPriority', 'storePathCount', 'subdirCount', 'currentWritePath', 'pathTotalMb', 'pathFreeMb', 'totalMb', 'freeMb', 'srcId', 'syncUntil', 'stats', 'beatIntervalMs', 'synced', 'changelogOffset'] as const) {
    ;(moved as unknown as Record<string, unknown>)[k] = old[k]
  }
  moved.statusReason = `ip changed from ${oldIp}`
  old.stats = { allocCount: 0, currentCount: 0, maxCount: 0, longs: new Array(old.stats.longs.length).fill(0) }
  old.synced = new Map()
  if (existing) g.storages.delete(existing.key)
  g.storages.set(moved.key, moved)
  // Peers that synced from the old address now learn it from the new one.
  for (const s of g.storages.values()) {
    const ts = s.synced.get(oldIp)
    if (ts !== undefined) s.synced.set(newIp, ts)
    if (s.srcId === oldIp) s.srcId = newIp
  }
  old.movedTo = newIp
  ctx.state.setStatus(old, S.IP_CHANGED, `ip changed to ${newIp}`)
  // Peers (the C storages) rename their sync marks for it when they read this line.
  ctx.changelog?.append(g.name, oldIp, S.IP_CHANGED, newIp)
  log.info({ group: g.name, oldIp, newIp, status: moved.statusName }, 'storage ip changed')
  ctx.state.onChange()
  return ok()
}
