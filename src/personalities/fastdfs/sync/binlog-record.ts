/**
 * FastDFS binlog records: `<unix ts> <op> <M00/HH/LL/name>[ <extra>]`.
 *
 * Upper-case ops mean "this storage is the source", lower-case "applied as a
 * replica". Extras: A/M `<offset> <length>`, T `<old_size> <new_size>`,
 * L `<src name>` (dest first), R `<old name>` (new first).
 * Written by the storage service for every change; read by the sync senders.
 */

export type BinlogOp = 'C' | 'D' | 'U' | 'A' | 'M' | 'T' | 'L' | 'R'

export interface BinlogRecord {
  timestamp: number
  /** The op as written (upper- or lower-case). */
  op: string
  /** Remote filename with the store path prefix (`M00/00/00/...`). */
  filename: string
  /** A/M: offset; T: old size. */
  a?: number
  /** A/M: length; T: new size. */
  b?: number
  /** L: link source; R: old name. */
  other?: string
}

export function formatRecord(r: BinlogRecord): string {
  const base = `${r.timestamp} ${r.op} ${r.filename}`
  switch (r.op.toUpperCase()) {
    case 'A':
    case 'M':
    case 'T':
      return `${base} ${r.a ?? 0} ${r.b ?? 0}`
    case 'L':
    case 'R':
      return r.other ? `${base} ${r.other}` : base
    default:
      return base
  }
}

/** Parse one line; `undefined` for a line that is not a valid record (logged and skipped by callers). */
export function parseRecord(line: string): BinlogRecord | undefined {
  const parts = line.split(' ')
  if (parts.length < 3) return undefined
  const timestamp = Number(parts[0])
  const op = parts[1]
  const filename = parts[2]
  if (!Number.isInteger(timestamp) || op.length !== 1 || !/^[CDUAMTLRcduamtlr]$/.test(op) || !filename) return undefined
  const r: BinlogRecord = { timestamp, op, filename }
  switch (op.toUpperCase()) {
    case 'A':
    case 'M':
    case 'T':
      if (parts.length < 5) return undefined
      r.a = Number(parts[3])
      r.b = Number(parts[4])
      if (!Number.isSafeInteger(r.a) || !Number.isSafeInteger(r.b) || r.a < 0 || r.b < 0) return undefined
      break
    case 'L':
    case 'R':
      if (parts[3]) r.other = parts[3]
      break
  }
  return r
}

export function isSourceOp(op: string): boolean {
  return op >= 'A' && op <= 'Z'
}
