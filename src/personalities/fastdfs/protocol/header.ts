/**
 * The 10-byte FastDFS header (8-byte signed big-endian body length, command,
 * status) and fixed-width field helpers used by every codec and server.
 */
import { HEADER_SIZE, RESP } from './constants.js'

export interface Header {
  /** Body length (header excluded). May be negative or absurd on bad input: callers validate. */
  length: bigint
  cmd: number
  status: number
}

export function encodeHeader(length: number | bigint, cmd: number, status = 0): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE)
  b.writeBigInt64BE(BigInt(length), 0)
  b[8] = cmd
  b[9] = status
  return b
}

/** Write a non-negative length as the 8-byte big-endian field without BigInt. */
export function writeLen(b: Buffer, off: number, n: number): void {
  b.writeUInt32BE(Math.floor(n / 0x100000000), off)
  b.writeUInt32BE(n >>> 0, off + 4)
}

export function decodeHeader(b: Buffer, off = 0): Header {
  return { length: b.readBigInt64BE(off), cmd: b[off + 8], status: b[off + 9] }
}

/** A response header (command 100). */
export function respHeader(length: number | bigint, status = 0): Buffer {
  return encodeHeader(length, RESP, status)
}

/**
 * Write `s` into a fixed-width, NUL-padded field (truncating to `width`).
 * FastDFS strings are bytes; we use latin1 for ids/addresses and utf8 for names.
 */
export function putFixed(buf: Buffer, off: number, width: number, s: string | Buffer): void {
  const src = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  const n = Math.min(width, src.length)
  src.copy(buf, off, 0, n)
  buf.fill(0, off + n, off + width)
}

export function fixed(s: string | Buffer, width: number): Buffer {
  const b = Buffer.allocUnsafe(width)
  putFixed(b, 0, width, s)
  return b
}

/** Read a fixed-width field up to the first NUL (senders may leave garbage after it). */
export function getFixed(buf: Buffer, off: number, width: number): string {
  const end = buf.indexOf(0, off)
  const stop = end < 0 || end > off + width ? off + width : end
  return buf.toString('utf8', off, stop)
}

export function long(n: number | bigint): Buffer {
  const b = Buffer.allocUnsafe(8)
  b.writeBigInt64BE(BigInt(n))
  return b
}

/** Read an 8-byte big-endian signed integer as a JS number (exact up to 2^53). */
export function readLong(buf: Buffer, off: number): number {
  return Number(buf.readBigInt64BE(off))
}
