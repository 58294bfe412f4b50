/**
 * Storage counters reported to the trackers in BEAT (83) as the 348-byte
 * FDFSStorageStatBuff (V6.16.1): 3 x int32 connection counts, then 42 int64s in
 * the order below. The server bumps them; the tracker reporter encodes them.
 */
import { countBytes } from '../../../server/process-metrics.js'

/** The 42 int64 fields, in wire order. */
export const STAT_FIELDS = [
  'total_upload_count', 'success_upload_count',
  'total_append_count', 'success_append_count',
  'total_modify_count', 'success_modify_count',
  'total_truncate_count', 'success_truncate_count',
  'total_set_meta_count', 'success_set_meta_count',
  'total_delete_count', 'success_delete_count',
  'total_download_count', 'success_download_count',
  'total_get_meta_count', 'success_get_meta_count',
  'total_create_link_count', 'success_create_link_count',
  'total_delete_link_count', 'success_delete_link_count',
  'total_upload_bytes', 'success_upload_bytes',
  'total_append_bytes', 'success_append_bytes',
  'total_modify_bytes', 'success_modify_bytes',
  'total_download_bytes', 'success_download_bytes',
  'total_sync_in_bytes', 'success_sync_in_bytes',
  'total_sync_out_bytes', 'success_sync_out_bytes',
  'total_file_open_count', 'success_file_open_count',
  'total_file_read_count', 'success_file_read_count',
  'total_file_write_count', 'success_file_write_count',
  'last_source_update', 'last_sync_update',
  'last_synced_timestamp', 'last_heart_beat_time',
] as const

/** One counter name of the stats block. */
export type StatField = (typeof STAT_FIELDS)[number]

/** 348 bytes in V6.16.1. */
export const STATS_BLOCK_SIZE = 12 + STAT_FIELDS.length * 8

/** Operations counted by StorageStats.op. */
export type StatOp = 'upload' | 'append' | 'modify' | 'truncate' | 'set_meta' | 'delete' | 'download' | 'get_meta' | 'create_link'

/** The counter names of each op, built once (op() runs on every request; no string building there). */
const OP_FIELDS = Object.fromEntries(
  (['upload', 'append', 'modify', 'truncate', 'set_meta', 'delete', 'download', 'get_meta', 'create_link'] as const).map((op) => {
    const withBytes = op === 'upload' || op === 'append' || op === 'modify' || op === 'download'
    return [
      op,
      {
        total: `total_${op}_count` as StatField,
        success: `success_${op}_count` as StatField,
        totalBytes: withBytes ? (`total_${op}_bytes` as StatField) : undefined,
        successBytes: withBytes ? (`success_${op}_bytes` as StatField) : undefined,
      },
    ]
  }),
) as Record<StatOp, { total: StatField; success: StatField; totalBytes?: StatField; successBytes?: StatField }>

/** Live counters of one storage process. `changes` moves whenever a counter does. */
export class StorageStats {
  readonly v: Record<StatField, number> = Object.fromEntries(STAT_FIELDS.map((f) => [f, 0])) as Record<StatField, number>
  changes = 0
  connCurrent = 0
  connMax = 0
  connAlloc = 0

  /** Count one operation of kind `op` (e.g. 'upload'), its success and bytes. */
  op(op: StatOp, ok: boolean, bytes = 0): void {
    const f = OP_FIELDS[op]
    this.v[f.total]++
    if (ok) this.v[f.success]++
    if (f.totalBytes && f.successBytes) {
      this.v[f.totalBytes] += bytes
      if (ok) this.v[f.successBytes] += bytes
      if (ok && bytes) countBytes('fastdfs-storage', op === 'download' ? 'out' : 'in', bytes)
    }
    if (ok && op !== 'download' && op !== 'get_meta') this.v.last_source_update = Math.floor(Date.now() / 1000)
    this.changes++
  }

  connOpened(): void {
    this.connCurrent++
    this.connAlloc++
    if (this.connCurrent > this.connMax) this.connMax = this.connCurrent
    this.changes++
  }

  connClosed(): void {
    this.connCurrent--
    this.changes++
  }

  /** Encode the 348-byte stats block. */
  encode(): Buffer {
    const b = Buffer.alloc(STATS_BLOCK_SIZE)
    b.writeInt32BE(this.connAlloc | 0, 0)
    b.writeInt32BE(this.connCurrent | 0, 4)
    b.writeInt32BE(this.connMax | 0, 8)
    STAT_FIELDS.forEach((f, i) => b.writeBigInt64BE(BigInt(Math.floor(this.v[f])), 12 + i * 8))
    return b
  }

  /** Counters as ini lines for `data/storage_stat.dat`. */
  toIni(): string {
    return STAT_FIELDS.map((f) => `${f}=${this.v[f]}`).join('\n') + '\n'
  }

  /** Restore counters from `toIni()` text (unknown lines ignored). */
  loadIni(text: string): void {
    for (const line of text.split('\n')) {
      const m = /^(\w+)=(-?\d+)$/.exec(line.trim())
      if (m && (STAT_FIELDS as readonly string[]).includes(m[1])) this.v[m[1] as StatField] = Number(m[2])
    }
  }
}
