/** Row shapes of the MogileFS schema-17 tables, as the tracker uses them. */

export type HostStatus = 'alive' | 'dead' | 'down' | 'readonly'
export type DeviceStatus = 'alive' | 'dead' | 'down' | 'readonly' | 'drain'

export interface DomainRow {
  dmid: number
  namespace: string
}

export interface ClassRow {
  dmid: number
  classid: number
  classname: string
  mindevcount: number
  /** 1 = MD5, 2 = SHA-1, null = none. */
  hashtype: number | null
  replpolicy: string | null
}

export interface HostRow {
  hostid: number
  status: HostStatus
  http_port: number
  http_get_port: number | null
  hostname: string
  hostip: string
  altip: string | null
  altmask: string | null
}

export interface DeviceRow {
  devid: number
  hostid: number
  status: DeviceStatus
  weight: number
  mb_total: number | null
  mb_used: number | null
  mb_asof: number | null
}

export interface FileRow {
  fid: number
  dmid: number
  dkey: string
  length: number
  classid: number
  devcount: number
}

export interface TempfileRow {
  fid: number
  createtime: number
  classid: number
  dmid: number
  dkey: string | null
  /** Comma-separated devids chosen by create_open. */
  devids: string | null
}

export interface QueueRow {
  fid: number
  nexttry: number
  failcount: number
  fromdevid?: number | null
}

export interface FsckLogRow {
  logid: number
  utime: number
  fid: number | null
  evcode: string
  devid: number | null
}

/** The queues the tracker drains (file_to_queue is split by `type`). */
export type QueueTable = 'file_to_replicate' | 'file_to_delete2'

/** file_to_queue.type values. */
export const QUEUE_FSCK = 1
export const QUEUE_REBALANCE = 2

export const HASHTYPES: Record<string, number> = { MD5: 1, 'SHA-1': 2 }
export const HASHNAMES: Record<number, string> = { 1: 'MD5', 2: 'SHA-1' }

/** Seconds since the epoch (the schema stores INT times). */
export const unixNow = (): number => Math.floor(Date.now() / 1000)

/** "never" for parked queue rows (no source copy left). */
export const NEXTTRY_NEVER = 2147483647
