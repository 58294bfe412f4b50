/**
 * Tracker commands sent by clients and monitors: QUERY_STORE (101/104/106/107),
 * QUERY_FETCH/UPDATE (102/103/105), SERVER_LIST_* (90/91/92), DELETE_STORAGE
 * (93) / DELETE_GROUP (108), GET_LEADER (95). Called by server.ts's dispatcher
 * with the request body; each returns the full reply bytes.
 */
import { ERRNO, FIELD, HEADER_SIZE, RESP, STORAGE_STATUS } from '../protocol/constants.js'
import { logger } from '../../../log.js'
import { fail, groupField, ipFieldSize, leaderOf, ok, selfIp, type Conn, type Reply, type TrackerCtx } from './context.js'
import { encodeGroupStat, encodeStorageStat, GROUP_STAT_SIZE } from './monitor-codec.js'
import { pickFetch, pickStorePath, pickStoreGroup, pickStoreServer, pickUpdate, reservedMb } from './policies.js'
import type { GroupNode, StorageNode } from './state.js'

const log = logger('fastdfs.tracker.client')

/** 101/104 (one server) and 106/107 (all servers). */
export function queryStore(ctx: TrackerCtx, body: Buffer, withGroup: boolean, all: boolean): Reply {
  if (body.length !== (withGroup ? FIELD.GROUP_NAME : 0)) return fail(ERRNO.EINVAL)
  const picked = pickStoreGroup(ctx.state, ctx.conf, withGroup ? groupField(body) : undefined)
  if ('errno' in picked) return fail(picked.errno)
  const g = picked.ok
  const servers: StorageNode[] = []
  if (all) servers.push(...g.writable())
  else {
    const s = pickStoreServer(ctx.conf, g)
    if (s) servers.push(s)
  }
  if (servers.length === 0) return fail(ERRNO.ENOENT)
  const pathIdx = pickStorePath(ctx.conf, servers[0], g.storePathCount)
  if (pathIdx === undefined) return fail(ERRNO.ENOSPC)
  const ipw = ipFieldSize(ctx) - 1
  if (servers.length === 1) return oneServerReply(g, servers[0], ipw, pathIdx)
  const out = Buffer.alloc(FIELD.GROUP_NAME + servers.length * (ipw + 8) + 1)
  out.write(g.name, 0, FIELD.GROUP_NAME, 'latin1')
  let p = FIELD.GROUP_NAME
  for (const s of servers) {
    out.write(s.ip, p, ipw, 'latin1')
    p += ipw
    out.writeBigInt64BE(BigInt(s.port), p)
    p += 8
  }
  out[p] = pathIdx
  return ok(out)
}

/** 102 (fetch one), 103 (update), 105 (fetch all). Body: group 16 + remote filename. */
export function queryFetchUpdate(ctx: TrackerCtx, body: Buffer, mode: 'fetch' | 'update' | 'all'): Reply {
  // Same bounds as the real tracker: at least group + 22 bytes, less than group + 128.
  if (body.length < FIELD.GROUP_NAME + 22 || body.length >= FIELD.GROUP_NAME + 128) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const remote = body.toString('latin1', FIELD.GROUP_NAME)
  let servers: StorageNode[]
  if (mode === 'update') {
    const r = pickUpdate(ctx.conf, g, remote)
    if ('errno' in r) return fail(r.errno)
    servers = [r.ok]
  } else {
    const r = pickFetch(ctx.conf, g, remote, mode === 'all', Math.floor(Date.now() / 1000))
    if ('errno' in r) return fail(r.errno)
    servers = r.ok
  }
  const ipw = ipFieldSize(ctx) - 1
  if (servers.length === 1) return oneServerReply(g, servers[0], ipw, -1)
  const out = Buffer.alloc(FIELD.GROUP_NAME + servers.length * (ipw + 8))
  out.write(g.name, 0, FIELD.GROUP_NAME, 'latin1')
  let p = FIELD.GROUP_NAME
  for (const s of servers) {
    out.write(s.ip, p, ipw, 'latin1')
    p += ipw
    out.writeBigInt64BE(BigInt(s.port), p)
    p += 8
  }
  return ok(out)
}

/** A cached one-server reply and what it was built from. */
interface OneServerReply {
  group: string
  ip: string
  port: number
  ipw: number
  buf: Buffer
}

/**
 * Complete one-server replies (header included) per storage, one per store path index
 * (slot 0: no path byte, the fetch/update form). Why: these bytes change only with the
 * group name, the storage's address and port and the IP field width, while building them
 * (a zeroed buffer, two latin1 writes, a BigInt, a header and a copy) was a third of the
 * tracker's JavaScript per query. Replies are written as they are and never modified.
 */
const oneServerReplies = new WeakMap<StorageNode, Array<OneServerReply | undefined>>()

function oneServerReply(g: GroupNode, s: StorageNode, ipw: number, pathIdx: number): Buffer {
  let slots = oneServerReplies.get(s)
  if (!slots) {
    slots = []
    oneServerReplies.set(s, slots)
  }
  const hit = slots[pathIdx + 1]
  if (hit && hit.group === g.name && hit.ip === s.ip && hit.port === s.port && hit.ipw === ipw) return hit.buf
  const body = FIELD.GROUP_NAME + ipw + 8 + (pathIdx >= 0 ? 1 : 0)
  const b = Buffer.alloc(HEADER_SIZE + body)
  b.writeBigInt64BE(BigInt(body), 0)
  b[8] = RESP
  b.write(g.name, HEADER_SIZE, FIELD.GROUP_NAME, 'latin1')
  b.write(s.ip, HEADER_SIZE + FIELD.GROUP_NAME, ipw, 'latin1')
  b.writeBigInt64BE(BigInt(s.port), HEADER_SIZE + FIELD.GROUP_NAME + ipw)
  if (pathIdx >= 0) b[HEADER_SIZE + body - 1] = pathIdx
  slots[pathIdx + 1] = { group: g.name, ip: s.ip, port: s.port, ipw, buf: b }
  return b
}

function visible(g: GroupNode): StorageNode[] {
  return g.sorted().filter((s) => s.status !== STORAGE_STATUS.DELETED)
}

function groupStat(ctx: TrackerCtx, g: GroupNode, out: Buffer, off: number): void {
  const { totalMb, freeMb } = g.space()
  encodeGroupStat(
    {
      groupName: g.name,
      totalMb,
      freeMb,
      reservedMb: reservedMb(ctx.conf, totalMb),
      trunkFreeMb: 0,
      storageCount: visible(g).length,
      storagePort: g.port,
      readableCount: g.readable().length,
      writableCount: g.writable().length,
      currentWriteServer: g.currentWriteServer,
      storePathCount: g.storePathCount,
      subdirCount: g.subdirCount,
      currentTrunkFileId: ctx.conf.useTrunkFile ? g.currentTrunkFileId : -1,
    },
    out,
    off,
  )
}

/** 90: one group's stat. */
export function listOneGroup(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== FIELD.GROUP_NAME) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const out = Buffer.alloc(GROUP_STAT_SIZE)
  groupStat(ctx, g, out, 0)
  return ok(out)
}

/** 91: every group's stat. */
export function listAllGroups(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== 0) return fail(ERRNO.EINVAL)
  const groups = ctx.state.sortedGroups()
  const out = Buffer.alloc(groups.length * GROUP_STAT_SIZE)
  groups.forEach((g, i) => groupStat(ctx, g, out, i * GROUP_STAT_SIZE))
  return ok(out)
}

/** 92: storages of a group (optionally one storage id / ip). */
export function listStorages(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length < FIELD.GROUP_NAME || body.length >= FIELD.GROUP_NAME + FIELD.STORAGE_ID + 46) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  let list = visible(g)
  if (body.length > FIELD.GROUP_NAME) {
    const want = groupField(body.subarray(FIELD.GROUP_NAME), 0)
    list = list.filter((s) => s.id === want || s.ip === want || `${s.ip}:${s.port}` === want)
    if (list.length === 0) return fail(ERRNO.ENOENT)
  }
  const ipSize = ipFieldSize(ctx)
  const now = Math.floor(Date.now() / 1000)
  const recs = list.map((s) =>
    encodeStorageStat(
      {
        status: s.status,
        rwMode: s.rwMode,
        id: s.id,
        ip: s.ip,
        srcId: s.srcId,
        version: s.version,
        joinTime: s.joinTime,
        upTime: s.status === STORAGE_STATUS.ACTIVE || s.status === STORAGE_STATUS.ONLINE ? s.upTime : 0,
        totalMb: s.totalMb,
        freeMb: s.freeMb,
        reservedMb: reservedMb(ctx.conf, s.totalMb),
        uploadPriority: s.uploadPriority,
        storePathCount: s.storePathCount,
        subdirCount: s.subdirCount,
        currentWritePath: s.currentWritePath,
        storagePort: s.port,
        stats: s.stats,
        ifTrunkServer: 0,
      },
      ipSize,
    ),
  )
  void now
  return ok(Buffer.concat(recs))
}

/** 93: remove a storage that is not connected. Body: group 16 + storage id (or ip). */
export function deleteStorage(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length <= FIELD.GROUP_NAME || body.length > FIELD.GROUP_NAME + 46) return fail(ERRNO.EINVAL)
  const g = ctx.state.group(groupField(body))
  if (!g) return fail(ERRNO.ENOENT)
  const want = groupField(body.subarray(FIELD.GROUP_NAME), 0)
  const s = [...g.storages.values()].find((x) => x.id === want || x.key === want || `${x.ip}:${x.port}` === want)
  if (!s) return fail(ERRNO.ENOENT)
  if (s.connected || s.status === STORAGE_STATUS.ONLINE || s.status === STORAGE_STATUS.ACTIVE) return fail(ERRNO.EBUSY)
  g.storages.delete(s.key)
  g.chgCount++
  // Peers drop their sync marks for it when they read this line (as with the real tracker).
  ctx.changelog?.append(g.name, s.id, STORAGE_STATUS.DELETED)
  log.info({ group: g.name, storage: s.key }, 'storage deleted by admin')
  ctx.state.onChange()
  return ok()
}

/** 108: remove a group none of whose storages is connected. */
export function deleteGroup(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== FIELD.GROUP_NAME) return fail(ERRNO.EINVAL)
  const name = groupField(body)
  const g = ctx.state.group(name)
  if (!g) return fail(ERRNO.ENOENT)
  for (const s of g.storages.values()) if (s.connected) return fail(ERRNO.EBUSY)
  ctx.state.groups.delete(name)
  log.info({ group: name }, 'group deleted by admin')
  ctx.state.onChange()
  return ok()
}

/** 95: the leader by the rule in leader.ts (the same answer on every tracker that reaches the others); text `ip:port`. */
export function getLeader(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  if (body.length !== 0) return fail(ERRNO.EINVAL)
  const l = leaderOf(ctx, conn)
  return ok(Buffer.from(`${l.ip}:${l.port}`, 'latin1'))
}
