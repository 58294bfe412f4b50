/**
 * The V6.16.1 monitor records (spec §9.1): the 113-byte group stat (reply to
 * 90/91), the 487-byte (IPv4) / 517-byte (IPv6) storage stat (reply to 92),
 * the 348-byte stats block inside it (also the BEAT body) and the 67-byte
 * storage brief. Encoders are used by the tracker, decoders by our client
 * tools (fdfs_monitor) and tests. All integers big-endian.
 */
import { putFixed, getFixed } from '../protocol/header.js'
import { FIELD } from '../protocol/constants.js'

export const GROUP_STAT_SIZE = 113
export const STATS_BLOCK_SIZE = 348
export const STORAGE_STAT_SIZE_V4 = 487
export const STORAGE_STAT_SIZE_V6 = 517
export const BRIEF_SIZE = 67
const STAT_LONGS = 42

export interface GroupStat {
  groupName: string
  totalMb: number
  freeMb: number
  reservedMb: number
  trunkFreeMb: number
  storageCount: number
  storagePort: number
  readableCount: number
  writableCount: number
  currentWriteServer: number
  storePathCount: number
  subdirCount: number
  /** -1 when trunk files are not used. */
  currentTrunkFileId: number
}

export interface StatsBlock {
  allocCount: number
  currentCount: number
  maxCount: number
  /** 42 counters in wire order. */
  longs: number[]
}

export interface StorageStat {
  status: number
  rwMode: number
  id: string
  ip: string
  srcId: string
  version: string
  joinTime: number
  upTime: number
  totalMb: number
  freeMb: number
  reservedMb: number
  uploadPriority: number
  storePathCount: number
  subdirCount: number
  currentWritePath: number
  storagePort: number
  stats: StatsBlock
  ifTrunkServer: number
}

const GROUP_LONGS: Array<keyof GroupStat> = [
  'totalMb', 'freeMb', 'reservedMb', 'trunkFreeMb', 'storageCount', 'storagePort',
  'readableCount', 'writableCount', 'currentWriteServer', 'storePathCount', 'subdirCount', 'currentTrunkFileId',
]

export function encodeGroupStat(g: GroupStat, out: Buffer = Buffer.alloc(GROUP_STAT_SIZE), off = 0): Buffer {
  putFixed(out, off, FIELD.GROUP_NAME + 1, g.groupName)
  let p = off + FIELD.GROUP_NAME + 1
  for (const k of GROUP_LONGS) {
    out.writeBigInt64BE(BigInt(g[k] as number), p)
    p += 8
  }
  return out
}

export function decodeGroupStat(b: Buffer, off = 0): GroupStat {
  const g = { groupName: getFixed(b, off, FIELD.GROUP_NAME + 1) } as GroupStat
  let p = off + FIELD.GROUP_NAME + 1
  for (const k of GROUP_LONGS) {
    ;(g as unknown as Record<string, number>)[k] = Number(b.readBigInt64BE(p))
    p += 8
  }
  return g
}

/** Parse the 348-byte stats block (BEAT body / inside the storage stat). */
export function decodeStatsBlock(b: Buffer, off = 0): StatsBlock {
  const longs: number[] = new Array(STAT_LONGS)
  for (let i = 0; i < STAT_LONGS; i++) longs[i] = Number(b.readBigInt64BE(off + 12 + i * 8))
  return { allocCount: b.readInt32BE(off), currentCount: b.readInt32BE(off + 4), maxCount: b.readInt32BE(off + 8), longs }
}

export function encodeStatsBlock(s: StatsBlock, out: Buffer = Buffer.alloc(STATS_BLOCK_SIZE), off = 0): Buffer {
  out.writeInt32BE(s.allocCount | 0, off)
  out.writeInt32BE(s.currentCount | 0, off + 4)
  out.writeInt32BE(s.maxCount | 0, off + 8)
  for (let i = 0; i < STAT_LONGS; i++) out.writeBigInt64BE(BigInt(s.longs[i] ?? 0), off + 12 + i * 8)
  return out
}

const STORAGE_LONGS: Array<keyof StorageStat> = [
  'joinTime', 'upTime', 'totalMb', 'freeMb', 'reservedMb', 'uploadPriority',
  'storePathCount', 'subdirCount', 'currentWritePath', 'storagePort',
]

/** Encode one storage stat record; `ipSize` 16 (IPv4 mode, 487 bytes) or 46 (IPv6, 517). */
export function encodeStorageStat(s: StorageStat, ipSize: 16 | 46 = 16): Buffer {
  const out = Buffer.alloc(ipSize === 16 ? STORAGE_STAT_SIZE_V4 : STORAGE_STAT_SIZE_V6)
  out[0] = s.status
  out[1] = s.rwMode
  let p = 2
  putFixed(out, p, FIELD.STORAGE_ID, s.id)
  p += FIELD.STORAGE_ID
  putFixed(out, p, ipSize, s.ip)
  p += ipSize
  putFixed(out, p, FIELD.STORAGE_ID, s.srcId)
  p += FIELD.STORAGE_ID
  putFixed(out, p, FIELD.VERSION, s.version)
  p += FIELD.VERSION
  for (const k of STORAGE_LONGS) {
    out.writeBigInt64BE(BigInt(s[k] as number), p)
    p += 8
  }
  encodeStatsBlock(s.stats, out, p)
  p += STATS_BLOCK_SIZE
  out[p] = s.ifTrunkServer
  return out
}

/** Decode one storage stat record of `size` bytes (487 or 517). */
export function decodeStorageStat(b: Buffer, off = 0, size = STORAGE_STAT_SIZE_V4): StorageStat {
  const ipSize = size === STORAGE_STAT_SIZE_V4 ? 16 : 46
  const s = { status: b[off], rwMode: b[off + 1] } as StorageStat
  let p = off + 2
  s.id = getFixed(b, p, FIELD.STORAGE_ID)
  p += FIELD.STORAGE_ID
  s.ip = getFixed(b, p, ipSize)
  p += ipSize
  s.srcId = getFixed(b, p, FIELD.STORAGE_ID)
  p += FIELD.STORAGE_ID
  s.version = getFixed(b, p, FIELD.VERSION)
  p += FIELD.VERSION
  for (const k of STORAGE_LONGS) {
    ;(s as unknown as Record<string, number>)[k] = Number(b.readBigInt64BE(p))
    p += 8
  }
  s.stats = decodeStatsBlock(b, p)
  p += STATS_BLOCK_SIZE
  s.ifTrunkServer = b[p]
  return s
}

/** Split a 92 reply body into records, telling IPv4 from IPv6 by which size divides it (as the C client does). */
export function decodeStorageStats(body: Buffer): StorageStat[] {
  const size = body.length % STORAGE_STAT_SIZE_V4 === 0 ? STORAGE_STAT_SIZE_V4 : body.length % STORAGE_STAT_SIZE_V6 === 0 ? STORAGE_STAT_SIZE_V6 : 0
  if (!size) throw new Error(`storage stat body length ${body.length} is not a multiple of ${STORAGE_STAT_SIZE_V4} or ${STORAGE_STAT_SIZE_V6}`)
  const out: StorageStat[] = []
  for (let off = 0; off < body.length; off += size) out.push(decodeStorageStat(body, off, size))
  return out
}

export interface Brief {
  status: number
  port: number
  id: string
  ip: string
}

/** The 67-byte FDFSStorageBrief: status 1, port 4, id 16, ip 46. */
export function encodeBrief(b: Brief, out: Buffer, off: number): void {
  out[off] = b.status
  out.writeInt32BE(b.port, off + 1)
  putFixed(out, off + 5, FIELD.STORAGE_ID, b.id)
  putFixed(out, off + 21, FIELD.IP_ADDRESS_FULL, b.ip)
}

export function decodeBrief(b: Buffer, off = 0): Brief {
  return { status: b[off], port: b.readInt32BE(off + 1), id: getFixed(b, off + 5, FIELD.STORAGE_ID), ip: getFixed(b, off + 21, FIELD.IP_ADDRESS_FULL) }
}
