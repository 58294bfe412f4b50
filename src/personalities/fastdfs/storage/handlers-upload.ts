/**
 * Writing commands of the storage server: UPLOAD (11), UPLOAD_APPENDER (23),
 * UPLOAD_SLAVE (21), APPEND (24), MODIFY (34), TRUNCATE (36) and
 * REGENERATE_APPENDER_FILENAME (38). Bodies stream straight into the blob
 * store; a failed or aborted write leaves nothing at a final path.
 * Called by the dispatcher in server.ts.
 */
import type { Socket } from 'node:net'
import type { BinlogPosition } from '../../../engine/binlog/binlog.js'
import { fixed, readLong } from '../protocol/header.js'
import { FIELD } from '../protocol/constants.js'
import { encodeFileName, formatExtPart, slaveName, MAX_REMOTE_NAME, type DecodedFileName } from '../file-id.js'
import { einval, enoent, StorageError } from './errors.js'
import { nameOf, readLen, replyBuffer, type Request } from './request.js'
import type { FileStore } from './store.js'
import { setMtime } from './store.js'
import { ERRNO } from '../protocol/constants.js'
import type { SyncAdmission } from './sync-admission.js'
import { leanWrite } from '../../../server/lean-socket.js'

/** What every handler gets. */
export interface StorageContext {
  store: FileStore
  group: string
  /** Our own IPv4 (for QUERY_FILE_INFO of names carrying our numeric id). */
  myIp(): string
  /**
   * Read routing on sync lag: forward a read of a file we lack to its source
   * storage and relay the reply (peer-proxy.ts). Resolves false when that does
   * not apply; absent = never proxy (tests, a storage without trackers).
   */
  proxyMissing?(req: Request, f: DecodedFileName, body: Buffer): Promise<boolean>
  /** upload_sync_backlog_max: admission of large uploads while replication catches up; absent = no rule. */
  syncAdmission?: SyncAdmission
  /** upload_min_copies: resolve once enough peers hold the record at `pos` (or the timeout passed); absent = reply at once. */
  waitCopies?(pos: BinlogPosition): Promise<void>
  /** A sync record from `peer` (REPORT_SERVER_ID value) with source timestamp `ts` was applied; absent = not tracked. */
  onSynced?(peer: string, ts: number): void
  /** network_timeout in ms: how long a zero-copy download may wait for a client that stopped reading; absent = 60 s. */
  networkTimeoutMs?: number
}

const now = () => Math.floor(Date.now() / 1000)

/** Uploads from this size on are admitted by `syncAdmission` (see sync-admission.ts). */
const LARGE_MIN = 256 * 1024

function reply(ctx: StorageContext, remote: string): Buffer {
  return Buffer.concat([fixed(ctx.group, FIELD.GROUP_NAME), Buffer.from(remote, 'latin1')])
}

/** Header + group field + remote name, written straight into one reply buffer. */
function nameReply(ctx: StorageContext, remote: string): Buffer {
  const b = replyBuffer(FIELD.GROUP_NAME + remote.length, 0)
  groupField(ctx).copy(b, 10)
  b.write(remote, 10 + FIELD.GROUP_NAME, 'latin1')
  return b
}

function sendName(ctx: StorageContext, req: Request, remote: string): void {
  req.send(nameReply(ctx, remote))
}

const groupFields = new WeakMap<StorageContext, Buffer>()
function groupField(ctx: StorageContext): Buffer {
  let g = groupFields.get(ctx)
  if (!g) {
    g = fixed(ctx.group, FIELD.GROUP_NAME)
    groupFields.set(ctx, g)
  }
  return g
}

function checkNameLen(n: number): void {
  if (n <= 0 || n > MAX_REMOTE_NAME) throw einval(`filename length ${n} invalid`)
}

/** 11 / 23: store_path_index 1, file_size 8, ext 6, content. */
export async function handleUpload(ctx: StorageContext, req: Request, appender: boolean): Promise<void> {
  const op = 'upload'
  if (req.length < 15) throw einval(`upload body ${req.length} < 15`)
  const h = req.readNow(15) ?? (await req.read(15))
  const size = readLen(h, 1)
  if (size < 0 || size !== req.left) {
    ctx.store.stats.op(op, false)
    throw einval(`upload file size ${size} != body remainder ${req.left}`)
  }
  const ext = nameOf(h, 9, 15)
  formatExtPart(ext) // validates (EINVAL on bad characters)
  const pathIndex = ctx.store.pickPath(h[0])
  let remote: string
  const large = size >= LARGE_MIN && ctx.syncAdmission !== undefined
  if (large) await ctx.syncAdmission!.admit()
  const ts = now()
  try {
    remote = (await ctx.store.storeNew(pathIndex, req.body(size), size, ext, appender, ts)).remote
  } catch (e) {
    ctx.store.stats.op(op, false, size)
    throw e
  }
  const pos = await ctx.store.record('C', remote, undefined, ts)
  if (large) ctx.syncAdmission!.note(pos)
  await ctx.waitCopies?.(pos)
  ctx.store.stats.op(op, true, size)
  sendName(ctx, req, remote)
}

/**
 * UPLOAD (11) / UPLOAD_APPENDER (23) answered where it lands, without a promise: called by
 * the request loop (server.ts) when the whole request `body` is buffered. Returns false,
 * having done nothing, whenever it does not apply: upload_min_copies to wait for, a store or
 * binlog that cannot write synchronously now, a body over the small-file size, or anything
 * the full handler should judge (bad size field, extension, path index): the loop then runs
 * handleUpload. Otherwise it answers (true), or throws a request error for the loop to answer
 * as it answers handlers' errors.
 */
export function uploadNow(ctx: StorageContext, sock: Socket, body: Buffer, appender: boolean): boolean {
  if (ctx.waitCopies || body.length < 15 || !ctx.store.canRecordNow()) return false
  const size = readLen(body, 1)
  if (size !== body.length - 15) return false
  const ext = nameOf(body, 9, 15)
  try {
    formatExtPart(ext)
  } catch {
    return false
  }
  if (body[0] !== 0xff && body[0] >= ctx.store.paths.length) return false
  const ts = now()
  let r
  try {
    r = ctx.store.storeNewNow(ctx.store.pickPath(body[0]), body.subarray(15), ext, appender, ts)
  } catch (e) {
    ctx.store.stats.op('upload', false, size)
    throw e
  }
  if (!r) return false
  ctx.store.recordNow('C', r.remote, undefined, ts)
  ctx.store.stats.op('upload', true, size)
  leanWrite(sock, nameReply(ctx, r.remote))
  return true
}

/** 21: master_len 8, file_size 8, prefix 16, ext 6, master name, content. */
export async function handleUploadSlave(ctx: StorageContext, req: Request): Promise<void> {
  if (req.length < 38) throw einval(`slave upload body ${req.length} < 38`)
  const h = await req.read(38)
  const masterLen = readLong(h, 0)
  const size = readLong(h, 8)
  checkNameLen(masterLen)
  if (size < 0 || masterLen + size !== req.left) throw einval('slave upload lengths do not match the body')
  const prefix = nameOf(h, 16, 32)
  const ext = nameOf(h, 32, 38)
  const master = nameOf(await req.read(masterLen))
  const m = ctx.store.locate(master)
  const slave = slaveName(master, prefix, ext)
  const s = ctx.store.locate(slave)
  if (!(await m.store.stat(m.key))) throw enoent(`master file ${master} not found`)
  if (await s.store.stat(s.key)) throw new StorageError(ERRNO.EEXIST, `slave file ${slave} exists`)
  const ts = now()
  try {
    await s.store.put(s.key, req.body(size), { size, overwrite: false, mtime: new Date(ts * 1000) })
  } catch (e) {
    ctx.store.stats.op('upload', false, size)
    throw e
  }
  await ctx.store.record('C', slave, undefined, ts)
  ctx.store.stats.op('upload', true, size)
  req.ok(reply(ctx, slave))
}

async function appenderTarget(ctx: StorageContext, name: string) {
  const loc = ctx.store.locate(name)
  if (!loc.d.appender) throw einval(`${name} is not an appender file`)
  const st = await loc.store.stat(loc.key)
  if (!st) throw enoent(`appender file ${name} not found`)
  return { ...loc, size: st.size }
}

/** 24: name_len 8, append_size 8, name, bytes. */
export async function handleAppend(ctx: StorageContext, req: Request): Promise<void> {
  if (req.length < 16) throw einval('append body too short')
  const h = await req.read(16)
  const nameLen = readLong(h, 0)
  const size = readLong(h, 8)
  checkNameLen(nameLen)
  if (size < 0 || nameLen + size !== req.left) throw einval('append lengths do not match the body')
  const name = nameOf(await req.read(nameLen))
  const t = await appenderTarget(ctx, name)
  try {
    await t.store.append(t.key, req.body(size), size)
  } catch (e) {
    ctx.store.stats.op('append', false, size)
    throw e
  }
  await ctx.store.record('A', name, `${t.size} ${size}`)
  ctx.store.stats.op('append', true, size)
  req.ok()
}

/** 34: name_len 8, offset 8, size 8, name, bytes. */
export async function handleModify(ctx: StorageContext, req: Request): Promise<void> {
  if (req.length < 24) throw einval('modify body too short')
  const h = await req.read(24)
  const nameLen = readLong(h, 0)
  const offset = readLong(h, 8)
  const size = readLong(h, 16)
  checkNameLen(nameLen)
  if (size < 0 || offset < 0 || nameLen + size !== req.left) throw einval('modify lengths do not match the body')
  const name = nameOf(await req.read(nameLen))
  const t = await appenderTarget(ctx, name)
  if (offset > t.size) throw einval(`modify offset ${offset} > file size ${t.size}`)
  try {
    await t.store.modify(t.key, offset, req.body(size), size)
  } catch (e) {
    ctx.store.stats.op('modify', false, size)
    throw e
  }
  await ctx.store.record('M', name, `${offset} ${size}`)
  ctx.store.stats.op('modify', true, size)
  req.ok()
}

/** 36: name_len 8, new_size 8, name. */
export async function handleTruncate(ctx: StorageContext, req: Request): Promise<void> {
  if (req.length < 16) throw einval('truncate body too short')
  const h = await req.read(16)
  const nameLen = readLong(h, 0)
  const newSize = readLong(h, 8)
  checkNameLen(nameLen)
  if (newSize < 0 || nameLen !== req.left) throw einval('truncate lengths do not match the body')
  const name = nameOf(await req.read(nameLen))
  const t = await appenderTarget(ctx, name)
  if (newSize === t.size) {
    req.ok() // the C server skips an equal-size truncate
    return
  }
  try {
    await t.store.truncate(t.key, newSize)
  } catch (e) {
    ctx.store.stats.op('truncate', false)
    throw e
  }
  await ctx.store.record('T', name, `${t.size} ${newSize}`)
  ctx.store.stats.op('truncate', true)
  req.ok()
}

/** 38: body = appender remote filename. Renames it into a normal-file name. */
export async function handleRegenerate(ctx: StorageContext, req: Request): Promise<void> {
  checkNameLen(req.length)
  const name = nameOf(await req.rest())
  const t = await appenderTarget(ctx, name)
  const sum = await t.store.checksum(t.key)
  if (!sum) throw enoent(`appender file ${name} not found`)
  const ts = now()
  const extPart = t.d.tail
  if (extPart.length !== 7) throw einval(`cannot regenerate the name of ${name}`)
  const fresh = encodeFileName({ storePathIndex: t.d.storePathIndex, subHigh: t.d.subHigh, subLow: t.d.subLow, source: ctx.store.source, timestamp: ts, size: sum.size, crc32: sum.crc32, ext: '', extPart })
  const nk = `data/${fresh.slice(4)}`
  await setMtime(t.store.root, t.key, ts)
  await t.store.rename(t.key, nk, false)
  await ctx.store.record('R', fresh, name, ts)
  req.ok(reply(ctx, fresh))
}
