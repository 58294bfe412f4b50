/**
 * FastDFS metadata codec (spec fastdfs.md §6): records joined by 0x01, name and
 * value separated by 0x02, no trailing separator. Names truncate to 64 bytes,
 * values to 256; records without 0x02 are skipped; a NUL ends the buffer like the
 * C string handling does. Stored sorted by name (byte-wise) in the side file
 * `<name>-m`. Used by the storage server (SET/GET_METADATA) and the client tools.
 */
import { META_FIELD_SEP, META_RECORD_SEP, FIELD } from './protocol/constants.js'

/** One metadata pair; bytes kept as Buffers so non-UTF-8 values survive round trips. */
export interface MetaPair {
  name: Buffer
  value: Buffer
}

/** Byte-wise compare like strcmp on the names. */
function byName(a: MetaPair, b: MetaPair): number {
  return Buffer.compare(a.name, b.name)
}

/**
 * Split a packed metadata buffer into pairs (truncating names/values, skipping
 * records without 0x02). An empty buffer gives []. Order is preserved.
 */
export function unpackMetadata(buf: Buffer): MetaPair[] {
  const nul = buf.indexOf(0)
  const b = nul >= 0 ? buf.subarray(0, nul) : buf
  const out: MetaPair[] = []
  if (b.length === 0) return out
  let start = 0
  while (start <= b.length) {
    let end = b.indexOf(META_RECORD_SEP, start)
    if (end < 0) end = b.length
    const rec = b.subarray(start, end)
    const sep = rec.indexOf(META_FIELD_SEP)
    if (sep >= 0) {
      const name = rec.subarray(0, Math.min(sep, FIELD.META_NAME))
      const v = rec.subarray(sep + 1)
      out.push({ name: Buffer.from(name), value: Buffer.from(v.subarray(0, Math.min(v.length, FIELD.META_VALUE))) })
    }
    start = end + 1
  }
  return out
}

/** Pack pairs as `name 02 value` joined by 01 (no sorting; callers sort). */
export function packMetadata(pairs: readonly MetaPair[]): Buffer {
  const parts: Buffer[] = []
  const sep1 = Buffer.of(META_RECORD_SEP)
  const sep2 = Buffer.of(META_FIELD_SEP)
  pairs.forEach((p, i) => {
    if (i > 0) parts.push(sep1)
    parts.push(p.name, sep2, p.value)
  })
  return Buffer.concat(parts)
}

/** Sort by name (stable, byte-wise). Duplicate names are kept like the C code does. */
export function sortMetadata(pairs: readonly MetaPair[]): MetaPair[] {
  return [...pairs].sort(byName)
}

/**
 * Merge (flag `M`): sorted merge of `current` and `incoming`; on equal names the
 * incoming value wins, other keys are kept. Both inputs may be unsorted.
 */
export function mergeMetadata(current: readonly MetaPair[], incoming: readonly MetaPair[]): MetaPair[] {
  const map = new Map<string, MetaPair>()
  for (const p of current) map.set(p.name.toString('latin1'), p)
  for (const p of incoming) map.set(p.name.toString('latin1'), p)
  return sortMetadata([...map.values()])
}

/** Convenience for tools/tests: `{k: v}` → pairs (utf8). */
export function metaFromObject(o: Record<string, string>): MetaPair[] {
  return Object.entries(o).map(([k, v]) => ({ name: Buffer.from(k), value: Buffer.from(v) }))
}

/** Convenience for tools/tests: pairs → `{k: v}` (utf8; last duplicate wins). */
export function metaToObject(pairs: readonly MetaPair[]): Record<string, string> {
  const o: Record<string, string> = {}
  for (const p of pairs) o[p.name.toString('utf8')] = p.value.toString('utf8')
  return o
}

/**
 * Parse the `fdfs_test setmeta` text form `k=v,k2=v2` (split at ',' then the first '=';
 * items without '=' are skipped). Used by the client tools.
 */
export function parseMetaText(s: string): MetaPair[] {
  const out: MetaPair[] = []
  for (const item of s.split(',')) {
    const eq = item.indexOf('=')
    if (eq < 0) continue
    out.push({ name: Buffer.from(item.slice(0, eq)), value: Buffer.from(item.slice(eq + 1)) })
  }
  return out
}

/** Suffix of the side file holding a data file's metadata. */
export const META_SUFFIX = '-m'
