/**
 * FastDFS V6.16.1 file IDs and remote filenames (spec fastdfs.md §5).
 *
 *   file ID         = `<group>/<remote filename>`
 *   remote filename = `M<XX>/<HH>/<LL>/<27 base64 chars><tail>`
 *   tail            = ext part of a normal file (`<6-len(ext) digits>.<ext>` or 7 digits),
 *                     longer for slave files (`<master without .ext><prefix>.<ext>`),
 *                     16 extra base64 chars before the ext part for trunk files.
 *
 * The 27 base64 chars (alphabet `A-Za-z0-9-_`, no padding) carry 20 bytes:
 * source (IPv4 network order, or a numeric storage id as little-endian uint32),
 * create timestamp (BE uint32), an 8-byte size word (BE) and CRC32 (BE).
 *
 * Used by the storage server (name generation, request validation), the tracker
 * (download routing by source/timestamp) and the client tools (fdfs_file_info).
 */
import { isIPv4 } from 'node:net'

/** Stable error code for every malformed name/ID. Callers map it to errno 22 (EINVAL). */
export const FILE_ID_ERROR = 'FDFS_BAD_FILE_ID' as const

/** Thrown for malformed names/IDs (code FDFS_BAD_FILE_ID); servers answer EINVAL. */
export class FileIdError extends Error {
  readonly code = FILE_ID_ERROR
  constructor(message: string) {
    super(message)
    this.name = 'FileIdError'
  }
}

/** Base64 chars encoding the 20-byte info block. */
export const BASE64_LEN = 27
/** `M00/00/00/` */
export const LOGIC_PATH_LEN = 10
/** Longest file extension (FDFS_FILE_EXT_NAME_MAX_LEN). */
export const EXT_MAX = 6
/** Length of a normal (non-slave, non-trunk) remote filename: 10 + 27 + 7. */
export const NORMAL_NAME_LEN = LOGIC_PATH_LEN + BASE64_LEN + EXT_MAX + 1
/** Trunk remote filename length: 10 + 27 + 16 + 1 + 6. */
export const TRUNK_NAME_LEN = LOGIC_PATH_LEN + BASE64_LEN + 16 + 1 + EXT_MAX
/** Largest numeric storage id that fits the name (FDFS_MAX_SERVER_ID). */
export const MAX_SERVER_ID = (1 << 24) - 1
/** Size-word flag bits: appender file (bit 58) and trunk file (bit 59). */
export const APPENDER_FLAG = 1n << 58n
export const TRUNK_FLAG = 1n << 59n
/** Largest remote filename we accept (the real servers cap at 128 bytes). */
export const MAX_REMOTE_NAME = 128

/** Characters fdfs_validate_filename allows in ext names and slave prefixes. */
const SAFE_RE = /^[A-Za-z0-9._-]*$/
const UPPER_HEX2 = /^[0-9A-F]{2}$/

function hex2(n: number): string {
  return (n < 16 ? '0' : '') + n.toString(16).toUpperCase()
}

/** Options for encodeFileName. `source` is a dotted IPv4 string or a numeric storage id. */
export interface EncodeOptions {
  storePathIndex: number
  subHigh: number
  subLow: number
  source: string | number
  /** Create timestamp, Unix seconds. */
  timestamp: number
  /** Real content size (ignored for appender files, whose size word carries only the flag). */
  size: number | bigint
  crc32: number
  appender?: boolean
  /** Extension without dot, '' for none; must be <= 6 chars of [A-Za-z0-9._-]. */
  ext: string
  /** Random source in [0,1) (default Math.random); tests pass a fixed one. */
  random?: () => number
  /** Pre-formatted ext part to reuse (regenerate-appender keeps the old digits). */
  extPart?: string
}

/** The 4-byte source field: numeric ids as LE uint32, IPv4 in network order. */
export function encodeSource(source: string | number, out: Buffer, off: number): void {
  if (typeof source === 'number' || /^\d+$/.test(source)) {
    const id = Number(source)
    if (!Number.isInteger(id) || id < 1 || id > MAX_SERVER_ID) throw new FileIdError(`bad storage id ${source}`)
    out.writeUInt32LE(id, off)
    return
  }
  if (!isIPv4(source)) throw new FileIdError(`bad source address ${source}`)
  const p = source.split('.')
  for (let i = 0; i < 4; i++) out[off + i] = Number(p[i])
}

/** Decode the 4-byte source field (LE value 1..16777215 = storage id, else IPv4). */
export function decodeSource(b: Buffer, off: number): { ip?: string; id?: number; source: string } {
  const le = b.readUInt32LE(off)
  if (le >= 1 && le <= MAX_SERVER_ID) return { id: le, source: String(le) }
  const ip = `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`
  return { ip, source: ip }
}

/** The masked 8-byte size word: random high bits for small files, flags for appenders. */
export function sizeWord(size: number | bigint, appender: boolean, random: () => number = Math.random): bigint {
  const r = BigInt(((Math.floor(random() * 0x800000) & 0x7fffff) | 0x80000000) >>> 0)
  if (appender) return (r << 32n) | APPENDER_FLAG
  const s = BigInt(size)
  if (s >> 32n !== 0n) return s
  return (r << 32n) | s
}

/**
 * The ext part of a generated name: `6-len(ext)` random digits + `.ext`, or 7 digits.
 * Throws FileIdError when ext is longer than 6 or has characters outside [A-Za-z0-9._-].
 */
export function formatExtPart(ext: string, random: () => number = Math.random): string {
  // '..' and a trailing '-m' are legal for the C server, but would make a name our own
  // validation refuses or that collides with a metadata side file (`<name>-m`).
  if (ext.length > EXT_MAX || !SAFE_RE.test(ext) || ext.includes('..') || ext.endsWith('-m')) throw new FileIdError(`bad file ext "${ext}"`)
  const pad = ext.length === 0 ? EXT_MAX + 1 : EXT_MAX - ext.length
  let s = ''
  for (let i = 0; i < pad; i++) s += String(Math.min(9, Math.floor(random() * 10)))
  return ext.length === 0 ? s : `${s}.${ext}`
}

/** The last source encoded by encodeFileName: a storage names every file with the same one. */
let lastSource: { source: string | number; bytes: Buffer } | undefined

/** encodeSource's 4 bytes for `source`, remembered for the next name. Throws like encodeSource. */
function sourceBytes(source: string | number): Buffer {
  if (lastSource?.source === source) return lastSource.bytes
  const bytes = Buffer.alloc(4)
  encodeSource(source, bytes, 0)
  lastSource = { source, bytes }
  return bytes
}

/** sizeWord written at `off` as two 32-bit halves (one random() call, as sizeWord). */
function writeSizeWord(b: Buffer, off: number, size: number | bigint, appender: boolean, random: () => number): void {
  const r = ((Math.floor(random() * 0x800000) & 0x7fffff) | 0x80000000) >>> 0
  if (typeof size === 'bigint' && size >= 0n && size < 0x100000000n) size = Number(size)
  if (appender) {
    b.writeUInt32BE((r | Number(APPENDER_FLAG >> 32n)) >>> 0, off)
    b.writeUInt32BE(0, off + 4)
  } else if (typeof size === 'number' && size >= 0 && size < 0x100000000) {
    b.writeUInt32BE(r, off)
    b.writeUInt32BE(size >>> 0, off + 4)
  } else {
    b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(size)), off)
  }
}

/** The 27-char base64 part over the 20 bytes. */
export function encodeBase64Part(source: string | number, timestamp: number, word: bigint, crc32: number): string {
  const b = Buffer.allocUnsafe(20)
  encodeSource(source, b, 0)
  b.writeUInt32BE(timestamp >>> 0, 4)
  b.writeBigUInt64BE(BigInt.asUintN(64, word), 8)
  b.writeUInt32BE(crc32 >>> 0, 16)
  return b.toString('base64url')
}

/**
 * Build a remote filename `M<XX>/<HH>/<LL>/<27><ext part>`. Called by the storage server
 * on upload/appender upload/regenerate. Throws FileIdError on out-of-range inputs.
 */
export function encodeFileName(o: EncodeOptions): string {
  const rnd = o.random ?? Math.random
  if (o.storePathIndex < 0 || o.storePathIndex > 255 || o.subHigh < 0 || o.subHigh > 255 || o.subLow < 0 || o.subLow > 255) {
    throw new FileIdError('store path / subdir index out of range')
  }
  // The same 20 bytes as encodeBase64Part(sizeWord(...)), without BigInt (this runs per upload).
  const b = Buffer.allocUnsafe(20)
  sourceBytes(o.source).copy(b, 0)
  b.writeUInt32BE(o.timestamp >>> 0, 4)
  writeSizeWord(b, 8, o.size, o.appender === true, rnd)
  b.writeUInt32BE(o.crc32 >>> 0, 16)
  const b64 = b.toString('base64url')
  const ext = o.extPart ?? formatExtPart(o.ext, rnd)
  return `M${hex2(o.storePathIndex)}/${hex2(o.subHigh)}/${hex2(o.subLow)}/${b64}${ext}`
}

/** Everything a remote filename says. */
export interface DecodedFileName {
  /** The name as given. */
  remote: string
  storePathIndex: number
  subHigh: number
  subLow: number
  /** `HH/LL/<name>` (path under `<store path>/data/`). */
  trueName: string
  /** Just `<name>` (last path component). */
  fileName: string
  base64: string
  /** Everything after the 27 base64 chars. */
  tail: string
  /** Extension without dot ('' if none), taken from the last 7 chars like the C code. */
  ext: string
  /** Source: IPv4 string or storage id in decimal. */
  source: string
  sourceIp?: string
  sourceId?: number
  timestamp: number
  /** The raw masked size word, high and low 32 bits. */
  sizeWordHi: number
  sizeWordLo: number
  /** Size encoded in the name: real size for normal files, 0 for appenders (-1 if unknown). */
  size: number
  crc32: number
  appender: boolean
  trunk: boolean
  /** Longer than a normal name and not a trunk name. */
  slave: boolean
}

/**
 * Parse and validate a remote filename (without group). Throws FileIdError for
 * anything the storage must reject with EINVAL: wrong M/HH/LL shape, store path
 * index > 255, extra '/', '..', characters outside [A-Za-z0-9._-], bad base64,
 * too short/long names.
 */
export function decodeFileName(remote: string): DecodedFileName {
  if (remote.length < NORMAL_NAME_LEN || remote.length > MAX_REMOTE_NAME) {
    throw new FileIdError(`remote filename length ${remote.length} invalid`)
  }
  if (remote[0] !== 'M' || remote[3] !== '/' || remote[6] !== '/' || remote[9] !== '/') {
    throw new FileIdError(`remote filename "${remote}" has a bad path`)
  }
  const xx = remote.slice(1, 3)
  const hh = remote.slice(4, 6)
  const ll = remote.slice(7, 9)
  if (!UPPER_HEX2.test(xx) || !UPPER_HEX2.test(hh) || !UPPER_HEX2.test(ll)) {
    throw new FileIdError(`remote filename "${remote}" has a bad path`)
  }
  const fileName = remote.slice(LOGIC_PATH_LEN)
  if (!SAFE_RE.test(fileName) || fileName.includes('..')) {
    throw new FileIdError(`remote filename "${remote}" has bad characters`)
  }
  const base64 = fileName.slice(0, BASE64_LEN)
  const raw = decodeBase64Part(base64)
  if (!raw) throw new FileIdError(`remote filename "${remote}" has bad base64`)
  const src = decodeSource(raw, 0)
  const timestamp = raw.readUInt32BE(4)
  // The size word as two 32-bit halves (no BigInt: this runs for every request that names a file).
  const hi = raw.readUInt32BE(8)
  const lo = raw.readUInt32BE(12)
  const crc32 = raw.readUInt32BE(16)
  const trunk = (hi & TRUNK_FLAG_HI) !== 0 && remote.length === TRUNK_NAME_LEN
  const appender = (hi & APPENDER_FLAG_HI) !== 0
  let size: number
  if (appender) size = 0
  else if (hi >>> 31 !== 0 || trunk) size = lo
  else size = hi <= MAX_SAFE_HI ? hi * 0x100000000 + lo : -1
  const tail = fileName.slice(BASE64_LEN)
  const dot = tail.lastIndexOf('.')
  const ext = dot >= 0 && tail.length - dot - 1 <= EXT_MAX ? tail.slice(dot + 1) : ''
  return {
    remote,
    storePathIndex: parseInt(xx, 16),
    subHigh: parseInt(hh, 16),
    subLow: parseInt(ll, 16),
    trueName: remote.slice(4),
    fileName,
    base64,
    tail,
    ext,
    source: src.source,
    sourceIp: src.ip,
    sourceId: src.id,
    timestamp,
    sizeWordHi: hi,
    sizeWordLo: lo,
    size,
    crc32,
    appender,
    trunk,
    slave: remote.length > TRUNK_NAME_LEN || (remote.length > NORMAL_NAME_LEN && !trunk),
  }
}

/** APPENDER_FLAG and TRUNK_FLAG as bits of the size word's high 32 bits. */
const APPENDER_FLAG_HI = Number(APPENDER_FLAG >> 32n)
const TRUNK_FLAG_HI = Number(TRUNK_FLAG >> 32n)
/** Largest high half for which hi * 2^32 + lo stays an exact JS number (2^53 - 1). */
const MAX_SAFE_HI = 0x1fffff

/** base64url character → 6-bit value, -1 for anything else. */
const B64_VALUE = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) B64_VALUE[c.charCodeAt(0)] = i

/** Scratch for decodeBase64Part. Safe to share: callers read it synchronously, before any other decode. */
const RAW = Buffer.alloc(20)

/**
 * The 20 bytes behind the 27 base64url characters of a name (the same bytes
 * `Buffer.from(s, 'base64url')` gives), or undefined when `s` is not 27 such
 * characters. Returns a shared scratch buffer: read it before the next call.
 */
function decodeBase64Part(s: string): Buffer | undefined {
  if (s.length !== BASE64_LEN) return undefined
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < BASE64_LEN; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? B64_VALUE[c] : -1
    if (v < 0) return undefined
    acc = ((acc << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      if (o < 20) RAW[o++] = (acc >>> bits) & 0xff
    }
  }
  return o === 20 ? RAW : undefined
}

/** Like decodeFileName but returns undefined instead of throwing. */
export function tryDecodeFileName(remote: string): DecodedFileName | undefined {
  try {
    return decodeFileName(remote)
  } catch {
    return undefined
  }
}

/** True when the name's size word carries the appender flag (false for malformed names). */
export function isAppenderName(remote: string): boolean {
  return tryDecodeFileName(remote)?.appender === true
}

/** A file ID split into group and remote filename. */
export interface FileId {
  group: string
  remote: string
}

/**
 * Split `group/M00/...` at the first '/'. Throws FileIdError when there is no '/',
 * the group is empty or longer than 16 bytes. The remote part is not validated here
 * (call decodeFileName for that).
 */
export function parseFileId(id: string): FileId {
  const i = id.indexOf('/')
  if (i <= 0 || i === id.length - 1) throw new FileIdError(`bad file id "${id}"`)
  const group = id.slice(0, i)
  if (Buffer.byteLength(group) > 16) throw new FileIdError(`group name too long in "${id}"`)
  return { group, remote: id.slice(i + 1) }
}

/** Join group and remote filename into a file ID. */
export function joinFileId(group: string, remote: string): string {
  return `${group}/${remote}`
}

/**
 * Slave filename like fdfs_gen_slave_filename: the master name with its `.ext`
 * (looked for in the last 7 chars) removed, then prefix, then `.ext` (the master's
 * ext when `ext` is undefined; none when ''). Throws FileIdError for a short master,
 * bad prefix/ext characters, prefix `-m` without ext, or an empty prefix that would
 * reproduce the master name.
 */
export function slaveName(master: string, prefix: string, ext?: string): string {
  if (master.length < 28 + EXT_MAX) throw new FileIdError(`master filename "${master}" is invalid`)
  if (!SAFE_RE.test(prefix) || prefix.length > 16) throw new FileIdError(`bad prefix "${prefix}"`)
  const dotAt = master.indexOf('.', master.length - (EXT_MAX + 1))
  const masterExt = dotAt >= 0 ? master.slice(dotAt) : ''
  let trueExt: string
  if (ext === undefined) trueExt = masterExt
  else if (ext === '') trueExt = ''
  else trueExt = ext.startsWith('.') ? ext : `.${ext}`
  if (trueExt.length > EXT_MAX + 1 || !SAFE_RE.test(trueExt)) throw new FileIdError(`bad ext "${ext}"`)
  if (trueExt === '' && prefix === '-m') throw new FileIdError('prefix "-m" is invalid')
  if (prefix === '' && trueExt === masterExt) throw new FileIdError('empty prefix_name is not allowed')
  const base = dotAt >= 0 ? master.slice(0, dotAt) : master
  const name = base + prefix + trueExt
  // e.g. prefix '' + ext 'bin-m' would be the master's metadata side file.
  if (name.endsWith('-m') || name.includes('..')) throw new FileIdError(`slave name "${name}" is not allowed`)
  return name
}
