/**
 * CRC-32 (zlib/IEEE polynomial, the one FastDFS puts in file names), incremental.
 * Backed by @node-rs/crc32 (SIMD); Node 20 has no zlib.crc32.
 */
import { crc32 as nativeCrc32 } from '@node-rs/crc32'

/** Continue a running CRC with `chunk`; start with 0. Returns an unsigned 32-bit value. */
export function crc32Update(crc: number, chunk: Uint8Array): number {
  return nativeCrc32(chunk as Buffer, crc) >>> 0
}

export function crc32(buf: Uint8Array): number {
  return crc32Update(0, buf)
}
