/**
 * Receiving side of storage<->storage sync (spec §8): REPORT_SERVER_ID (9),
 * SYNC_CREATE (16), SYNC_DELETE (17), SYNC_UPDATE (18), SYNC_CREATE_LINK (19),
 * SYNC_APPEND (25), SYNC_MODIFY (35), SYNC_TRUNCATE (37), SYNC_RENAME (40).
 * Each applies the change (temp + rename for whole files, so a partial replica
 * is never visible) and writes the lower-case binlog record. Bodies are decoded
 * with sync/sync-codec.ts (the sender's encoders live there too). After each
 * applied record, `ctx.onSynced(peer, ts)` tells the tracker reporter the
 * source timestamp reached from the peer named by REPORT_SERVER_ID on this
 * connection (SYNC_REPORT 89).
 */
import type { Socket } from 'node:net'
import { ENGINE_ERRORS, isEngineError } from '../../../engine/errors.js'
import { ERRNO, FIELD } from '../protocol/constants.js'
import { getFixed } from '../protocol/header.js'
import { MAX_REMOTE_NAME } from '../file-id.js'
import { decodeSyncDelete, decodeSyncFile, decodeSyncRange, decodeSyncTruncate, decodeSyncTwoNames, SYNC_FIXED } from '../sync/sync-codec.js'
import { einval, enoent, StorageError } from './errors.js'
import { nameOf, statusReply, type Request } from './request.js'
import type { StorageContext } from './handlers-upload.js'
import { leanWrite } from '../../../server/lean-socket.js'

type Handler = (ctx: StorageContext, req: Request) => Promise<void>

/** Peer identity announced with REPORT_SERVER_ID (9) per connection; absent for client connections. */
const peerOfSocket = new WeakMap<Socket, string>()

/** The storage id/ip a peer announced on this connection, or undefined (a client, not a peer storage). */
export function syncPeerOf(sock: Socket): string | undefined {
  return peerOfSocket.get(sock)
}

function applied(ctx: StorageContext, req: Request, ts: number): void {
  const peer = peerOfSocket.get(req.sock)
  if (peer) ctx.onSynced?.(peer, ts)
}

function checkGroupName(g: string, mine: string): void {
  if (g !== mine) throw einval(`group name "${g}" is not mine ("${mine}")`)
}

function len(n: number): number {
  if (n <= 0 || n > MAX_REMOTE_NAME) throw einval(`filename length ${n} invalid`)
  return n
}

/** 16 / 18: name_len 8, file_size 8, ts 4, group 16, name, content. */
function syncWhole(update: boolean): Handler {
  return async (ctx, req) => {
    if (req.length < SYNC_FIXED.file) throw einval('sync body too short')
    const { nameLen: nl, size, ts, group } = decodeSyncFile(await req.read(SYNC_FIXED.file))
    const nameLen = len(nl)
    checkGroupName(group, ctx.group)
    const name = nameOf(await req.read(nameLen))
    const f = ctx.store.locate(name, true)
    // The sender may announce "already there, same size" with status EEXIST and no content.
    if (req.status === ERRNO.EEXIST && req.left === 0) {
      await ctx.store.record(update ? 'u' : 'c', name, undefined, ts)
      applied(ctx, req, ts)
      return req.ok()
    }
    if (size < 0 || size !== req.left) throw einval('sync file size does not match the body')
    try {
      // overwrite false: the store refuses an existing replica before reading the body.
      await f.store.put(f.key, req.body(size), { size, overwrite: update, mtime: new Date(ts * 1000) })
    } catch (e) {
      if (!update && isEngineError(e, ENGINE_ERRORS.EXISTS)) throw new StorageError(ERRNO.EEXIST, `replica ${name} exists`)
      throw e
    }
    ctx.store.stats.v.total_sync_in_bytes += size
    ctx.store.stats.v.success_sync_in_bytes += size
    ctx.store.stats.v.last_sync_update = Math.floor(Date.now() / 1000)
    await ctx.store.record(update ? 'u' : 'c', name, undefined, ts)
    applied(ctx, req, ts)
    req.ok()
  }
}

/**
 * SYNC_CREATE_FILE (16) answered where it lands, without a promise: called by the request loop
 * (server.ts) when the whole record `body` is buffered and the header status is 0 (not the
 * "already there" form). Returns false, having done nothing, whenever it does not apply (a
 * field the full handler should judge, a replica that exists, a store or binlog that cannot
 * write synchronously now): the loop then runs the full handler. Otherwise it answers (true),
 * or throws a request error for the loop to answer.
 */
export function syncCreateNow(ctx: StorageContext, sock: Socket, body: Buffer): boolean {
  if (body.length < SYNC_FIXED.file || !ctx.store.canRecordNow()) return false
  const { nameLen, size, ts, group } = decodeSyncFile(body)
  if (group !== ctx.group || nameLen <= 0 || nameLen > MAX_REMOTE_NAME || size < 0 || SYNC_FIXED.file + nameLen + size !== body.length) return false
  const name = nameOf(body, SYNC_FIXED.file, SYNC_FIXED.file + nameLen)
  let f
  try {
    f = ctx.store.locate(name, true)
  } catch {
    return false
  }
  let put
  try {
    put = f.store.putNow(f.key, body.subarray(SYNC_FIXED.file + nameLen), { overwrite: false, mtime: new Date(ts * 1000), mtimeSecondOnly: true })
  } catch (e) {
    // An existing replica (a replay): the full handler answers EEXIST as it always does.
    if (isEngineError(e, ENGINE_ERRORS.EXISTS)) return false
    throw e
  }
  if (!put) return false
  const v = ctx.store.stats.v
  v.total_sync_in_bytes += size
  v.success_sync_in_bytes += size
  v.last_sync_update = Math.floor(Date.now() / 1000)
  // The reply waits in a corked socket while the peer's burst lasts (server.ts): the record
  // then goes to the binlog with the burst's others, written before the replies are released.
  if (sock.writableCorked > 0) ctx.store.recordHeld('c', name, ts)
  else ctx.store.recordNow('c', name, undefined, ts)
  const peer = peerOfSocket.get(sock)
  if (peer) ctx.onSynced?.(peer, ts)
  leanWrite(sock, statusReply(0))
  return true
}

/** 17: ts 4, group 16, name. */
const syncDelete: Handler = async (ctx, req) => {
  if (req.length <= 20 || req.length > 20 + MAX_REMOTE_NAME) throw einval('sync delete body length invalid')
  const b = await req.rest()
  const { ts, group } = decodeSyncDelete(b)
  checkGroupName(group, ctx.group)
  const name = nameOf(b, SYNC_FIXED.delete)
  const f = ctx.store.locate(name, true)
  if (!(await f.store.delete(f.key))) throw enoent(`replica ${name} not found`)
  await ctx.store.record('d', name, undefined, ts)
  applied(ctx, req, ts)
  req.ok()
}

/** 25 / 35: name_len 8, offset 8, length 8, ts 4, group 16, name, bytes. */
function syncRange(modify: boolean): Handler {
  return async (ctx, req) => {
    if (req.length < SYNC_FIXED.range) throw einval('sync body too short')
    const { nameLen: nl, offset, length: size, ts, group } = decodeSyncRange(await req.read(SYNC_FIXED.range))
    const nameLen = len(nl)
    checkGroupName(group, ctx.group)
    if (offset < 0 || size < 0 || nameLen + size !== req.left) throw einval('sync range lengths do not match the body')
    const name = nameOf(await req.read(nameLen))
    const f = ctx.store.locate(name)
    const st = await f.store.stat(f.key)
    if (!st) throw enoent(`replica ${name} not found`)
    if (modify) {
      if (offset > st.size) throw einval(`modify offset ${offset} > size ${st.size}`)
      await f.store.modify(f.key, offset, req.body(size), size)
    } else {
      // Replay is state based: the peer may already hold these bytes.
      if (st.size >= offset + size) throw new StorageError(ERRNO.EEXIST, `append to ${name} already applied`)
      if (st.size !== offset) throw einval(`append offset ${offset} != replica size ${st.size}`)
      await f.store.append(f.key, req.body(size), size)
    }
    await ctx.store.record(modify ? 'm' : 'a', name, `${offset} ${size}`, ts)
    applied(ctx, req, ts)
    req.ok()
  }
}

/** 37: name_len 8, old_size 8, new_size 8, ts 4, group 16, name. */
const syncTruncate: Handler = async (ctx, req) => {
  if (req.length < SYNC_FIXED.truncate) throw einval('sync truncate body too short')
  const { nameLen: nl, oldSize, newSize, ts, group } = decodeSyncTruncate(await req.read(SYNC_FIXED.truncate))
  const nameLen = len(nl)
  checkGroupName(group, ctx.group)
  if (nameLen !== req.left || newSize < 0) throw einval('sync truncate lengths invalid')
  const name = nameOf(await req.read(nameLen))
  const f = ctx.store.locate(name)
  const st = await f.store.stat(f.key)
  if (!st) throw enoent(`replica ${name} not found`)
  if (st.size !== oldSize) throw new StorageError(ERRNO.EEXIST, `truncate of ${name} already applied`)
  await f.store.truncate(f.key, newSize)
  await ctx.store.record('t', name, `${oldSize} ${newSize}`, ts)
  applied(ctx, req, ts)
  req.ok()
}

/** 19 (link) / 40 (rename): a_len 8, b_len 8, ts 4, group 16, a, b. */
function syncTwoNames(rename: boolean): Handler {
  return async (ctx, req) => {
    const F = SYNC_FIXED.twoNames
    if (req.length < F || req.length > F + 2 * MAX_REMOTE_NAME) throw einval('sync body length invalid')
    const b = await req.rest()
    const d = decodeSyncTwoNames(b)
    const aLen = len(d.firstLen)
    const bLen = len(d.secondLen)
    const ts = d.ts
    checkGroupName(d.group, ctx.group)
    if (F + aLen + bLen !== b.length) throw einval('sync name lengths do not match the body')
    const first = nameOf(b, F, F + aLen)
    const second = nameOf(b, F + aLen, F + aLen + bLen)
    const dst = ctx.store.locate(first, true)
    const src = ctx.store.locate(second, true)
    if (dst.store !== src.store) throw einval('link/rename across store paths')
    if (rename) {
      if (await dst.store.stat(dst.key)) throw new StorageError(ERRNO.EEXIST, `${first} exists`)
      // V6.16.1 echoes the request body here (a bug); we send the empty reply senders expect.
      if (!(await src.store.rename(src.key, dst.key, false))) throw enoent(`${second} not found`)
      await ctx.store.record('r', first, second, ts)
    } else {
      await src.store.link(src.key, dst.key)
      await ctx.store.record('l', first, second, ts)
    }
    applied(ctx, req, ts)
    req.ok()
  }
}

/** 9: the peer's storage id (or ip) 16: names the source of this connection's records (and marks it a peer: never proxied). */
const reportServerId: Handler = async (_ctx, req) => {
  if (req.length !== FIELD.STORAGE_ID) throw einval('report server id body length invalid')
  const id = getFixed(await req.rest(), 0, FIELD.STORAGE_ID)
  if (!id) throw einval('empty storage id')
  peerOfSocket.set(req.sock, id)
  req.ok()
}

/** Handlers by command code, for the dispatcher. */
export const SYNC_HANDLERS: Record<number, Handler> = {
  9: reportServerId,
  16: syncWhole(false),
  17: syncDelete,
  18: syncWhole(true),
  19: syncTwoNames(false),
  25: syncRange(false),
  35: syncRange(true),
  37: syncTruncate,
  40: syncTwoNames(true),
}
