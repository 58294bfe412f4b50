/**
 * Reading and bookkeeping commands of the storage server: DOWNLOAD (14),
 * DELETE (12), SET_METADATA (13), GET_METADATA (15), QUERY_FILE_INFO (22).
 * Called by the dispatcher in server.ts.
 */
import type { Socket } from 'node:net'
import { FIELD, QUERY_FINFO_FLAGS, ERRNO, HEADER_SIZE, RESP } from '../protocol/constants.js'
import { fixed, getFixed, readLong, respHeader } from '../protocol/header.js'
import { MAX_REMOTE_NAME } from '../file-id.js'
import { META_SUFFIX, mergeMetadata, packMetadata, sortMetadata, unpackMetadata, type MetaPair } from '../metadata.js'
import { einval, enoent, StorageError } from './errors.js'
import { ENGINE_ERRORS, isEngineError } from '../../../engine/errors.js'
import { checkGroup, nameOf, readLen, replyBuffer, writeLen, type Request } from './request.js'
import type { StorageContext } from './handlers-upload.js'
import { KeyedMutex } from '../../../engine/util/keyed-mutex.js'
import type { ReadHandle } from '../../../engine/blob/blob-store.js'
import { LARGE } from '../../../engine/blob/local-blob-store.js'
import { canSendFile, sendHeadAndFile } from '../../../engine/io/sendfile.js'
import { logger } from '../../../log.js'
import { leanWrite } from '../../../server/lean-socket.js'

const log = logger('fastdfs.storage')

/**
 * Download bodies above this size go out with sendfile(2) when the native addon is
 * available. Why 64 KiB: up to there the blob store already holds the bytes in memory
 * and header + body leave in one write, cheaper than a thread-pool round trip; above
 * it, copying the file through user space is what bounds the download rate.
 */
const ZERO_COPY_MIN = 64 * 1024
/** network_timeout when the context carries none (the storage.conf default). */
const DEFAULT_NETWORK_TIMEOUT_MS = 60_000
/** sendfile failures that just mean the client went away (or the socket was closed under us). */
const PEER_GONE = new Set(['EPIPE', 'ECONNRESET', 'ECANCELED', 'ENOTCONN', 'ECONNABORTED'])

/** Serialises read-merge-write of one file's metadata (two concurrent M merges must not lose a key). */
const metaLocks = new KeyedMutex()

/** Body `group 16 + filename` → located file. */
async function groupAndName(ctx: StorageContext, req: Request, lead = 0) {
  if (req.length <= lead + FIELD.GROUP_NAME || req.length > lead + FIELD.GROUP_NAME + MAX_REMOTE_NAME) {
    throw einval(`body length ${req.length} invalid`)
  }
  const b = req.readNow(req.left) ?? (await req.rest())
  checkGroup(b, lead, ctx.group)
  const name = nameOf(b, lead + FIELD.GROUP_NAME)
  return { head: b, name, ...ctx.store.locate(name) }
}

/** Wait for 'drain' or 'close', removing both listeners afterwards (no listener build-up on long downloads). */
function drained(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done)
      sock.off('close', done)
      resolve()
    }
    sock.on('drain', done)
    sock.on('close', done)
  })
}

/**
 * The reply of a large download through sendfile(2): the header first, flushed (so no
 * user-space bytes are queued that the file bytes could overtake), then the range straight
 * from the page cache. Counted and failed like the streamed path: a short send closes the
 * connection. The stream is never read; destroying it closes the descriptor.
 */
async function downloadZeroCopy(ctx: StorageContext, sock: Socket, h: ReadHandle, fd: number, n: number, name: string): Promise<void> {
  let sent = 0
  try {
    sent = await sendHeadAndFile(sock, respHeader(n, 0), fd, h.start, n, ctx.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS)
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { bytesSent?: number }
    sent = err.bytesSent ?? 0
    if (err.code === 'ETIMEDOUT') log.warn({ peer: sock.remoteAddress, file: name, sent, n }, 'download stalled longer than network_timeout, closing')
    else if (!PEER_GONE.has(err.code ?? '')) log.warn({ err, peer: sock.remoteAddress, file: name }, 'zero-copy download failed, closing')
    // The kernel knows the connection is broken (or stalled) before Node does: close it now, so
    // the request loop ends the connection quietly instead of at its next read.
    sock.destroy()
  } finally {
    h.stream.destroy()
  }
  const ok = sent === n
  ctx.store.stats.op('download', ok, sent)
  if (!ok) throw new StorageError(ERRNO.EIO, `download of ${name} cut short at ${sent}/${n}`, true)
}

/**
 * DOWNLOAD answered where it lands, without a promise: called by the request loop
 * (server.ts) when the whole request body is buffered. Handles the common case only: the
 * group is ours, the file is here and the range is small (read in one call into the reply,
 * LocalBlobStore.readSmall). Returns false, having sent nothing, for anything else (a large
 * range, a missing file that may need the peer proxy, any error): the loop then runs
 * handleDownload, which answers those cases.
 */
export function downloadNow(ctx: StorageContext, sock: Socket, body: Buffer): boolean {
  if (body.length <= 16 + FIELD.GROUP_NAME || body.length > 16 + FIELD.GROUP_NAME + MAX_REMOTE_NAME) return false
  try {
    if (getFixed(body, 16, FIELD.GROUP_NAME) !== ctx.group) return false
    const offset = readLen(body, 0)
    const length = readLen(body, 8)
    if (offset < 0 || length < 0) return false
    const f = ctx.store.locate(nameOf(body, 16 + FIELD.GROUP_NAME))
    const r = f.store.readSmall(f.key, { start: offset, end: length > 0 ? offset + length : undefined }, HEADER_SIZE)
    if (r === undefined || r === LARGE || r.start >= r.size) return false
    const n = r.end - r.start
    const out = r.framed
    writeLen(out, 0, n)
    out[8] = RESP
    out[9] = 0
    leanWrite(sock, out)
    ctx.store.stats.op('download', true, n)
    return true
  } catch {
    return false
  }
}

/** 14: offset 8, length 8 (0 = to end), group 16, name → the bytes. */
export async function handleDownload(ctx: StorageContext, req: Request): Promise<void> {
  const stats = ctx.store.stats
  const f = await groupAndName(ctx, req, 16)
  const offset = readLen(f.head, 0)
  const length = readLen(f.head, 8)
  if (offset < 0 || length < 0) throw einval('negative download offset/length')
  let h
  try {
    h = await f.store.openRead(f.key, { start: offset, end: length > 0 ? offset + length : undefined })
  } catch (e) {
    if (!isEngineError(e, ENGINE_ERRORS.BAD_RANGE)) throw e
    stats.op('download', false)
    throw einval(`download offset ${offset} beyond the file size`)
  }
  // V6.16.1 rejects offset >= size (so a 0-byte file can never be downloaded).
  if (h && h.start >= h.size) {
    h.stream.destroy()
    stats.op('download', false)
    throw einval(`download offset ${offset} >= size ${h.size}`)
  }
  if (!h) {
    if (await ctx.proxyMissing?.(req, f.d, f.head)) return
    stats.op('download', false)
    throw enoent(`file ${f.name} not found`)
  }
  const n = h.end - h.start
  req.replied = true
  const sock = req.sock
  if (h.buffer && h.buffer.length === n) {
    // Small file already in memory: header and bytes in one write, no stream machinery.
    const out = replyBuffer(n, 0)
    h.buffer.copy(out, 10)
    leanWrite(sock, out)
    stats.op('download', true, n)
    return
  }
  if (n > ZERO_COPY_MIN && h.fd !== undefined && canSendFile(sock)) return downloadZeroCopy(ctx, sock, h, h.fd, n, f.name)
  let sent = 0
  let first = true
  try {
    // Header and (for small files, the only) first chunk leave in one segment.
    sock.cork()
    sock.write(respHeader(n, 0))
    for await (const chunk of h.stream as AsyncIterable<Buffer>) {
      if (sock.destroyed) break
      sent += chunk.length
      const flowing = sock.write(chunk)
      if (first) {
        first = false
        sock.uncork()
      }
      if (!flowing) await drained(sock)
    }
  } finally {
    if (first) sock.uncork()
    h.stream.destroy()
  }
  const ok = sent === n
  stats.op('download', ok, sent)
  // A short send cannot be reported in-band once the header went out: close instead.
  if (!ok) throw new StorageError(ERRNO.EIO, `download of ${f.name} cut short at ${sent}/${n}`, true)
}

/** 12: group 16 + name. */
export async function handleDelete(ctx: StorageContext, req: Request): Promise<void> {
  const f = await groupAndName(ctx, req)
  const gone = await f.store.delete(f.key)
  if (!gone) {
    ctx.store.stats.op('delete', false)
    throw enoent(`file ${f.name} not found`)
  }
  await ctx.store.record('D', f.name)
  if (await f.store.delete(f.key + META_SUFFIX)) await ctx.store.record('D', f.name + META_SUFFIX)
  ctx.store.stats.op('delete', true)
  req.ok()
}

/** 13: name_len 8, meta_len 8, op 1 ('O'|'M'), group 16, name, packed metadata. */
export async function handleSetMeta(ctx: StorageContext, req: Request, maxBody: number): Promise<void> {
  const stats = ctx.store.stats
  if (req.length <= 2 * 8 + 1 + FIELD.GROUP_NAME || req.length >= maxBody) throw einval(`set-meta body length ${req.length} invalid`)
  const b = await req.rest()
  const nameLen = readLong(b, 0)
  const metaLen = readLong(b, 8)
  const flag = String.fromCharCode(b[16])
  if (nameLen <= 0 || nameLen > MAX_REMOTE_NAME) throw einval(`filename length ${nameLen} invalid`)
  if (flag !== 'O' && flag !== 'M') throw einval(`bad metadata op flag ${JSON.stringify(flag)}`)
  if (metaLen < 0 || metaLen !== b.length - 33 - nameLen) throw einval(`metadata length ${metaLen} does not match the body`)
  checkGroup(b, 17, ctx.group)
  const name = nameOf(b, 33, 33 + nameLen)
  const f = ctx.store.locate(name)
  if (!(await f.store.stat(f.key))) {
    stats.op('set_meta', false)
    throw enoent(`file ${name} not found`)
  }
  const incoming = unpackMetadata(b.subarray(33 + nameLen))
  await metaLocks.run(f.key, () => writeMeta(ctx, f.store, f.key, name, flag, incoming))
  stats.op('set_meta', true)
  req.ok()
}

async function writeMeta(ctx: StorageContext, store: StorageContext['store']['paths'][number], key: string, name: string, flag: string, incoming: MetaPair[]): Promise<void> {
  const mkey = key + META_SUFFIX
  const mname = name + META_SUFFIX
  const existed = (await store.stat(mkey)) !== undefined
  let pairs: MetaPair[]
  if (flag === 'O') {
    if (incoming.length === 0) {
      if (await store.delete(mkey)) await ctx.store.record('D', mname)
      return
    }
    pairs = sortMetadata(incoming)
  } else {
    if (incoming.length === 0) return
    const cur = existed ? unpackMetadata(await readSmall(store, mkey)) : []
    pairs = mergeMetadata(cur, incoming)
  }
  const packed = packMetadata(pairs)
  await store.put(mkey, once1(packed), { size: packed.length })
  await ctx.store.record(existed ? 'U' : 'C', mname)
}

async function* once1(b: Buffer): AsyncGenerator<Buffer> {
  yield b
}

async function readSmall(store: StorageContext['store']['paths'][number], key: string): Promise<Buffer> {
  const h = await store.openRead(key)
  if (!h) return Buffer.alloc(0)
  const parts: Buffer[] = []
  for await (const c of h.stream as AsyncIterable<Buffer>) parts.push(c)
  return Buffer.concat(parts)
}

/** 15: group 16 + name → packed metadata (empty when none). */
export async function handleGetMeta(ctx: StorageContext, req: Request): Promise<void> {
  const f = await groupAndName(ctx, req)
  if (!(await f.store.stat(f.key))) {
    if (await ctx.proxyMissing?.(req, f.d, f.head)) return
    ctx.store.stats.op('get_meta', false)
    throw enoent(`file ${f.name} not found`)
  }
  const meta = await readSmall(f.store, f.key + META_SUFFIX)
  ctx.store.stats.op('get_meta', true)
  req.ok(meta)
}

/** 22: group 16 + name; header status = flags → size 8, mtime 8, crc32 8, source ip 16. */
export async function handleQueryInfo(ctx: StorageContext, req: Request): Promise<void> {
  const f = await groupAndName(ctx, req)
  const st = await f.store.stat(f.key)
  if (!st) {
    if (!(req.status & QUERY_FINFO_FLAGS.LOCAL_ONLY) && (await ctx.proxyMissing?.(req, f.d, f.head))) return
    throw enoent(`file ${f.name} not found`)
  }
  let crc = f.d.crc32
  if (f.d.appender || f.d.slave) {
    if (req.status & QUERY_FINFO_FLAGS.NOT_CALC_CRC32) crc = 0
    else crc = (await f.store.checksum(f.key))?.crc32 ?? 0
  }
  const body = Buffer.alloc(40)
  body.writeBigInt64BE(BigInt(st.size), 0)
  body.writeBigInt64BE(BigInt(Math.floor(st.mtimeMs / 1000)), 8)
  // The C server stores the CRC in an int and widens it: sign-extended (0xffffffff939c8b7f on the wire).
  body.writeBigInt64BE(BigInt(crc | 0), 16)
  const ip = f.d.sourceIp ?? (f.d.sourceId !== undefined && String(f.d.sourceId) === ctx.store.source ? ctx.myIp() : f.d.source)
  fixed(ip, FIELD.IP_ADDRESS).copy(body, 24)
  req.ok(body)
}
