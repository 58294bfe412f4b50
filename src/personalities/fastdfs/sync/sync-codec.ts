/**
 * Storage-to-storage sync command bodies (V6.16.1, spec §4.2):
 *   9  REPORT_SERVER_ID  id 16
 *   16 SYNC_CREATE_FILE / 18 SYNC_UPDATE_FILE  name_len 8, file_size 8, ts 4, group 16, name, bytes
 *   17 SYNC_DELETE_FILE  ts 4, group 16, name
 *   25 SYNC_APPEND_FILE / 35 SYNC_MODIFY_FILE  name_len 8, offset 8, length 8, ts 4, group 16, name, bytes
 *   37 SYNC_TRUNCATE_FILE  name_len 8, old_size 8, new_size 8, ts 4, group 16, name
 *   19 SYNC_CREATE_LINK  dest_len 8, src_len 8, ts 4, group 16, dest, src
 *   40 SYNC_RENAME_FILE  new_len 8, old_len 8, ts 4, group 16, new, old
 * Encoders return the header + fixed fields (+ names); file bytes follow
 * separately so they can be streamed. Decoders take the fixed part and names.
 */
import { FIELD, STORAGE_CMD } from '../protocol/constants.js'
import { encodeHeader, getFixed, putFixed, readLong, writeLen } from '../protocol/header.js'

const G = FIELD.GROUP_NAME

export function reportServerId(id: string): Buffer {
  const b = Buffer.alloc(10 + FIELD.STORAGE_ID)
  encodeHeader(FIELD.STORAGE_ID, STORAGE_CMD.REPORT_SERVER_ID).copy(b)
  putFixed(b, 10, FIELD.STORAGE_ID, id)
  return b
}

/** Head of 16/18 (create/update): everything before the file bytes. */
export function syncFileHead(cmd: 16 | 18, group: string, name: string, size: number, ts: number): Buffer {
  const b = Buffer.allocUnsafe(syncFileHeadLength(name))
  writeSyncFileHead(b, cmd, group, name, size, ts)
  return b
}

/** Bytes of the 16/18 head for `name` (header, fixed fields, name). */
export function syncFileHeadLength(name: string): number {
  return 10 + 8 + 8 + 4 + G + Buffer.byteLength(name)
}

/**
 * Write the 16/18 head into `out` at 0 (`syncFileHeadLength(name)` bytes), e.g. in front of
 * the file bytes already read into the same buffer (the sender's synchronous small-file path).
 */
export function writeSyncFileHead(out: Buffer, cmd: 16 | 18, group: string, name: string, size: number, ts: number): void {
  const fixed = 8 + 8 + 4 + G
  const nameLen = out.write(name, 30 + G, 'utf8')
  writeLen(out, 0, fixed + nameLen + size)
  out[8] = cmd
  out[9] = 0
  writeLen(out, 10, nameLen)
  writeLen(out, 18, size)
  out.writeUInt32BE(ts >>> 0, 26)
  putFixed(out, 30, G, group)
}

export function syncDelete(group: string, name: string, ts: number): Buffer {
  const n = Buffer.from(name)
  const body = 4 + G + n.length
  const b = Buffer.alloc(10 + body)
  encodeHeader(body, STORAGE_CMD.SYNC_DELETE_FILE).copy(b)
  b.writeUInt32BE(ts >>> 0, 10)
  putFixed(b, 14, G, group)
  n.copy(b, 14 + G)
  return b
}

/** Head of 25/35 (append/modify): everything before the bytes. */
export function syncRangeHead(cmd: 25 | 35, group: string, name: string, offset: number, length: number, ts: number): Buffer {
  const n = Buffer.from(name)
  const fixed = 8 + 8 + 8 + 4 + G
  const b = Buffer.alloc(10 + fixed + n.length)
  encodeHeader(fixed + n.length + length, cmd).copy(b)
  b.writeBigInt64BE(BigInt(n.length), 10)
  b.writeBigInt64BE(BigInt(offset), 18)
  b.writeBigInt64BE(BigInt(length), 26)
  b.writeUInt32BE(ts >>> 0, 34)
  putFixed(b, 38, G, group)
  n.copy(b, 38 + G)
  return b
}

export function syncTruncate(group: string, name: string, oldSize: number, newSize: number, ts: number): Buffer {
  const n = Buffer.from(name)
  const body = 8 + 8 + 8 + 4 + G + n.length
  const b = Buffer.alloc(10 + body)
  encodeHeader(body, STORAGE_CMD.SYNC_TRUNCATE_FILE).copy(b)
  b.writeBigInt64BE(BigInt(n.length), 10)
  b.writeBigInt64BE(BigInt(oldSize), 18)
  b.writeBigInt64BE(BigInt(newSize), 26)
  b.writeUInt32BE(ts >>> 0, 34)
  putFixed(b, 38, G, group)
  n.copy(b, 38 + G)
  return b
}

/** 19 (link: first = dest, second = src) and 40 (rename: first = new, second = old). */
export function syncTwoNames(cmd: 19 | 40, group: string, first: string, second: string, ts: number): Buffer {
  const a = Buffer.from(first)
  const c = Buffer.from(second)
  const body = 8 + 8 + 4 + G + a.length + c.length
  const b = Buffer.alloc(10 + body)
  encodeHeader(body, cmd).copy(b)
  b.writeBigInt64BE(BigInt(a.length), 10)
  b.writeBigInt64BE(BigInt(c.length), 18)
  b.writeUInt32BE(ts >>> 0, 26)
  putFixed(b, 30, G, group)
  a.copy(b, 30 + G)
  c.copy(b, 30 + G + a.length)
  return b
}

/** Fixed-part sizes the receiver reads before the names. */
export const SYNC_FIXED = {
  file: 8 + 8 + 4 + G,
  delete: 4 + G,
  range: 8 + 8 + 8 + 4 + G,
  truncate: 8 + 8 + 8 + 4 + G,
  twoNames: 8 + 8 + 4 + G,
} as const

export interface SyncFileFixed {
  nameLen: number
  size: number
  ts: number
  group: string
}

export function decodeSyncFile(f: Buffer): SyncFileFixed {
  return { nameLen: readLong(f, 0), size: readLong(f, 8), ts: f.readUInt32BE(16), group: getFixed(f, 20, G) }
}

export function decodeSyncRange(f: Buffer): { nameLen: number; offset: number; length: number; ts: number; group: string } {
  return { nameLen: readLong(f, 0), offset: readLong(f, 8), length: readLong(f, 16), ts: f.readUInt32BE(24), group: getFixed(f, 28, G) }
}

export function decodeSyncTruncate(f: Buffer): { nameLen: number; oldSize: number; newSize: number; ts: number; group: string } {
  return { nameLen: readLong(f, 0), oldSize: readLong(f, 8), newSize: readLong(f, 16), ts: f.readUInt32BE(24), group: getFixed(f, 28, G) }
}

export function decodeSyncTwoNames(f: Buffer): { firstLen: number; secondLen: number; ts: number; group: string } {
  return { firstLen: readLong(f, 0), secondLen: readLong(f, 8), ts: f.readUInt32BE(16), group: getFixed(f, 20, G) }
}

export function decodeSyncDelete(f: Buffer): { ts: number; group: string } {
  return { ts: f.readUInt32BE(0), group: getFixed(f, 4, G) }
}
