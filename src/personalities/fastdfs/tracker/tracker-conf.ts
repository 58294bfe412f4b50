/**
 * tracker.conf as fdfs_trackerd V6.16.1 reads it. Keys we do not use (trunk
 * tuning, log rotation, thread counts, ...) are accepted silently; the ones
 * storages need are echoed back in PARAMETER_REQ (75). A bad value throws a
 * ConfError naming file:line:key.
 *
 * Called by the fdfs_trackerd CLI and by tests.
 */
import path from 'node:path'
import { ConfFile, ConfError } from '../../../config/conf-file.js'
import type { ReservedRule } from '../../../engine/disk/reserved.js'
import { DEFAULT_TRACKER_PORT } from '../protocol/constants.js'
import { loadStorageIds, type StorageIdEntry } from '../storage-ids.js'

export interface TrackerConf {
  file: string
  disabled: boolean
  bindAddr: string
  port: number
  basePath: string
  /** 0 round robin, 1 fixed store_group, 2 load balance (most free space). */
  storeLookup: 0 | 1 | 2
  storeGroup: string
  /** 0 round robin, 1 first by ip/id, 2 first by upload priority. */
  storeServer: 0 | 1 | 2
  /** 0 round robin, 2 most free space. */
  storePath: 0 | 2
  /** 0 round robin among storages known to have the file, 1 source first. */
  downloadServer: 0 | 1
  reserved: ReservedRule
  /** The reserved rule as the tracker prints it in PARAMETER_REQ (`20.00%` / `1024MB`). */
  reservedText: string
  useStorageId: boolean
  storageIdsFile: string
  storageIds: StorageIdEntry[]
  /** `id` only takes effect with use_storage_id (the real tracker reports `ip` otherwise). */
  idTypeInFilename: 'ip' | 'id'
  trustStorageServerId: boolean
  storageIpChangedAutoAdjust: boolean
  syncFileMaxDelay: number
  syncFileMaxTime: number
  /** 'auto' = 16 unless an IPv6 storage exists; or fixed 16 / 46. */
  responseIpAddrSize: 'auto' | 16 | 46
  storeSlaveFileUseLink: boolean
  checkActiveInterval: number
  networkTimeout: number
  maxConnections: number
  /** Seconds without a heartbeat after which a storage is marked OFFLINE (ours: see state.ts). */
  useTrunkFile: boolean
}

function fmtRatio(r: number): string {
  return `${(r * 100).toFixed(2)}%`
}

/** Load and validate a tracker.conf. Throws ConfError. */
export function loadTrackerConf(file: string): TrackerConf {
  const c = ConfFile.load(file)
  return trackerConfFrom(c)
}

/** Build a TrackerConf from an already-parsed ConfFile (tests use ConfFile.parse). */
export function trackerConfFrom(c: ConfFile): TrackerConf {
  const basePath = c.str('base_path')
  if (!basePath) c.fail('base_path', 'base_path is required')
  if (!path.isAbsolute(basePath)) c.fail('base_path', `base_path must be an absolute path, got ${JSON.stringify(basePath)}`)
  const port = c.int('port', DEFAULT_TRACKER_PORT, { min: 1, max: 65535 })
  const storeLookup = c.int('store_lookup', 2, { min: 0, max: 2 }) as 0 | 1 | 2
  const storeGroup = c.str('store_group', '')
  if (storeLookup === 1 && !storeGroup) c.fail('store_group', 'store_lookup = 1 needs a store_group')
  if (storeGroup && (Buffer.byteLength(storeGroup) > 16 || !/^[A-Za-z0-9_-]+$/.test(storeGroup))) c.fail('store_group', `invalid group name ${JSON.stringify(storeGroup)}`)
  const storeServer = c.int('store_server', 0, { min: 0, max: 2 }) as 0 | 1 | 2
  const storePath = c.int('store_path', 0, { min: 0, max: 2 })
  if (storePath === 1) c.fail('store_path', 'store_path must be 0 (round robin) or 2 (load balance)')
  const downloadServer = c.int('download_server', 0, { min: 0, max: 1 }) as 0 | 1
  const reservedRaw = c.str('reserved_storage_space', '20%')
  const reserved = c.reserved('reserved_storage_space', '20%')
  const reservedText = reserved.ratio !== undefined ? fmtRatio(reserved.ratio) : `${Math.floor((reserved.bytes ?? 0) / 1048576)}MB`
  void reservedRaw
  const useStorageId = c.bool('use_storage_id', false)
  const storageIdsFile = c.path('storage_ids_filename', 'storage_ids.conf') as string
  let storageIds: StorageIdEntry[] = []
  if (useStorageId) storageIds = loadStorageIds(storageIdsFile)
  const idType = c.oneOf('id_type_in_filename', 'id', ['ip', 'id'] as const)
  const rips = c.str('response_ip_addr_size', 'auto').toLowerCase()
  let responseIpAddrSize: 'auto' | 16 | 46
  if (rips === 'auto') responseIpAddrSize = 'auto'
  else if (rips === '16' || rips === 'ipv4') responseIpAddrSize = 16
  else if (rips === '46' || rips === 'ipv6') responseIpAddrSize = 46
  else c.fail('response_ip_addr_size', `expected auto, IPv4, IPv6, 16 or 46, got ${JSON.stringify(rips)}`)
  const bindAddr = c.str('bind_addr', '')
  if (bindAddr && !/^[0-9A-Za-z.:_-]+$/.test(bindAddr)) c.fail('bind_addr', `invalid address ${JSON.stringify(bindAddr)}`)
  return {
    file: c.file,
    disabled: c.bool('disabled', false),
    bindAddr,
    port,
    basePath,
    storeLookup,
    storeGroup,
    storeServer,
    storePath: storePath as 0 | 2,
    downloadServer,
    reserved,
    reservedText,
    useStorageId,
    storageIdsFile,
    storageIds,
    idTypeInFilename: useStorageId ? idType : 'ip',
    trustStorageServerId: c.bool('trust_storage_server_id', true),
    storageIpChangedAutoAdjust: c.bool('storage_ip_changed_auto_adjust', true),
    syncFileMaxDelay: c.seconds('storage_sync_file_max_delay', 86400),
    syncFileMaxTime: c.seconds('storage_sync_file_max_time', 300),
    responseIpAddrSize,
    storeSlaveFileUseLink: c.bool('store_slave_file_use_link', false),
    checkActiveInterval: c.seconds('check_active_interval', 120),
    networkTimeout: c.seconds('network_timeout', 60),
    maxConnections: c.int('max_connections', 1024, { min: 1 }),
    useTrunkFile: c.bool('use_trunk_file', false),
  }
}

export { ConfError }
