/**
 * storage.conf → StorageConfig (the subset of FastDFS V6.16.1 keys we act on).
 * Unknown keys are accepted silently (they are valid upstream keys we do not use);
 * relative paths resolve against the conf file's directory (upstream resolves
 * against `/`, which is a trap we fix). Called by the fdfs_storaged CLI.
 */
import path from 'node:path'
import { ConfError, ConfFile, parseHostPort } from '../../../config/conf-file.js'
import type { ReservedRule } from '../../../engine/disk/reserved.js'
import { DEFAULT_STORAGE_PORT, DEFAULT_TRACKER_PORT } from '../protocol/constants.js'

/** One tracker_server entry. */
export interface TrackerAddr {
  host: string
  port: number
}

/** Parsed storage.conf; optional fields are undefined when the key is absent. */
export interface StorageConfig {
  confFile: string
  groupName: string
  bindAddr: string
  port: number
  basePath: string
  storePaths: string[]
  subdirCount: number
  trackers: TrackerAddr[]
  heartBeatInterval: number
  statReportInterval: number
  /** Local default; the tracker's PARAMETER_REQ reply overrides it. */
  reserved: ReservedRule
  /** 0 = round robin, 1 = hash of the name. */
  distributeMode: 0 | 1
  rotateCount: number
  /** fsync_after_written_bytes > 0 → fdatasync every write before acknowledging. */
  fsync: 'never' | 'always'
  buffSize: number
  uploadPriority: number
  useStorageId: boolean
  storageIdsFile?: string
  /** Our own key for `use_storage_id` mode: this storage's numeric id. */
  id?: string
  /** The source written into new file names: `id` (numeric storage id) or `ip`. */
  idTypeInFilename: 'ip' | 'id'
  /** Seconds a client may stay idle before we drop it (network_timeout). */
  networkTimeout: number
  httpPort: number
  /**
   * tandemfs extension `upload_min_copies = N` (default 1): an upload is
   * answered only once N-1 peers of the group hold it too, or after
   * `upload_copies_timeout` (default 10 s; then it is answered anyway with a
   * warning: the file is safely stored here and will still sync).
   */
  uploadMinCopies: number
  uploadCopiesTimeoutMs: number
  /**
   * tandemfs extension `upload_sync_backlog_max = N` (default 1024; 0 = off): a large upload
   * (256 KiB or more) waits while N earlier large uploads of this storage still wait for their
   * copies on the connected peers (storage/sync-admission.ts); a peer that leaves the oldest
   * of them without a copy for `upload_copies_timeout` suspends the rule for 30 s. Why 1024 by
   * default: a bound for sustained overload (about 1 GiB of 1 MiB files behind a peer), not a
   * throttle of bursts; lower values keep replicas closer (64: the last copies of a 3 s burst of
   * 1 MiB uploads from 8 clients came 0.1-0.2 s after it instead of 1.3-2 s) at the price of
   * acknowledging uploads at the rate replication sustains (at 32 clients less than half of
   * what the storages can take).
   */
  uploadSyncBacklogMax: number
  /**
   * `sync_max_threads` (default `auto` = 2 × store_path_count, as in V6.15+): connections a
   * backlog of large files is spread over, per peer. Small records (and a quiet sender) use one.
   */
  syncMaxThreads: number
  /** `http.server_port` present: serve HTTP downloads on httpPort (bind_addr). */
  httpEnabled: boolean
  /** http.anti_steal.check_token = true: require token+ts (secret_key, token_ttl seconds); absent = no check. */
  antiSteal?: { secret: string; ttlSec: number }
  pidFile: string
  logFile: string
}

/** Parse a storage.conf file. Throws ConfError naming file:line:key on bad values. */
export function loadStorageConfig(file: string): StorageConfig {
  const c = ConfFile.load(file)
  return storageConfigFrom(c)
}

/** Build the config from an already parsed ConfFile (tests use ConfFile.parse). */
export function storageConfigFrom(c: ConfFile): StorageConfig {
  if (c.bool('disabled', false)) throw new ConfError(`${c.file}: storage is disabled (disabled = true)`)
  const groupName = c.str('group_name', 'group1')
  if (groupName === '' || Buffer.byteLength(groupName) > 16 || !/^[A-Za-z0-9_-]+$/.test(groupName)) {
    c.fail('group_name', `invalid group name ${JSON.stringify(groupName)}`)
  }
  const basePath = c.path('base_path')
  if (!basePath) c.fail('base_path', 'base_path is required')
  const count = c.int('store_path_count', 1, { min: 1, max: 256 })
  const storePaths: string[] = []
  for (let i = 0; i < count; i++) {
    const p = c.path(`store_path${i}`) ?? (i === 0 ? basePath : undefined)
    if (!p) c.fail(`store_path${i}`, `store_path${i} is required (store_path_count = ${count})`)
    storePaths.push(p)
  }
  const trackers = c.all('tracker_server').filter((v) => v.trim() !== '').map((v) => parseHostPort(v.trim(), DEFAULT_TRACKER_PORT))
  if (trackers.length === 0) c.fail('tracker_server', 'at least one tracker_server is required')
  const subdirCount = c.int('subdir_count_per_path', 256, { min: 1, max: 256 })
  const fsyncBytes = c.size('fsync_after_written_bytes', 0)
  const useStorageId = c.bool('use_storage_id', false)
  const storageIdsFile = c.path('storage_ids_filename', 'storage_ids.conf')
  const bindAddr = c.str('bind_addr', '')
  const syncThreads = c.str('sync_max_threads', 'auto').trim().toLowerCase()
  const syncMaxThreads = syncThreads === 'auto' || syncThreads === '' ? 2 * count : c.int('sync_max_threads', 1, { min: 1, max: 64 })
  return {
    confFile: c.file,
    groupName,
    bindAddr,
    port: c.int('port', DEFAULT_STORAGE_PORT, { min: 1, max: 65535 }),
    basePath,
    storePaths,
    subdirCount,
    trackers,
    heartBeatInterval: c.int('heart_beat_interval', 30, { min: 1 }),
    statReportInterval: c.int('stat_report_interval', 60, { min: 1 }),
    reserved: c.reserved('reserved_storage_space', '1%'),
    distributeMode: c.int('file_distribute_path_mode', 0, { min: 0, max: 1 }) as 0 | 1,
    rotateCount: c.int('file_distribute_rotate_count', 100, { min: 1 }),
    fsync: fsyncBytes > 0 ? 'always' : 'never',
    buffSize: c.size('buff_size', 256 * 1024),
    uploadPriority: c.int('upload_priority', 10),
    useStorageId,
    storageIdsFile: useStorageId ? storageIdsFile : undefined,
    id: c.str('id') || undefined,
    idTypeInFilename: c.oneOf('id_type_in_filename', 'ip', ['ip', 'id'] as const),
    networkTimeout: c.int('network_timeout', 60, { min: 1 }),
    httpPort: c.int('http.server_port', 8888, { min: 1, max: 65535 }),
    httpEnabled: c.has('http.server_port'),
    uploadMinCopies: c.int('upload_min_copies', 1, { min: 1, max: 32 }),
    uploadCopiesTimeoutMs: c.seconds('upload_copies_timeout', 10) * 1000,
    uploadSyncBacklogMax: c.int('upload_sync_backlog_max', 1024, { min: 0, max: 1_000_000 }),
    syncMaxThreads,
    antiSteal: c.bool('http.anti_steal.check_token', false)
      ? { secret: c.str('http.anti_steal.secret_key', '') ?? '', ttlSec: c.seconds('http.anti_steal.token_ttl', 900) }
      : undefined,
    pidFile: path.join(basePath, 'data', 'fdfs_storaged.pid'),
    logFile: path.join(basePath, 'logs', 'storaged.log'),
  }
}

/**
 * Find this storage's id in storage_ids.conf (`<id> <group> <ip>[:port]` lines):
 * the `id` key wins, else the line whose group and ip[:port] match. Absent → undefined.
 */
export function resolveStorageId(cfg: StorageConfig, text: string, myIp: string): string | undefined {
  if (cfg.id) return cfg.id
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) continue
    const [id, group, addr] = line.split(/\s+/)
    if (!id || group !== cfg.groupName || !addr) continue
    const ip = addr.split(',')[0]
    const m = /^(.*?)(?::(\d+))?$/.exec(ip)
    if (!m) continue
    if (m[1] === myIp && (!m[2] || Number(m[2]) === cfg.port)) return id
  }
  return undefined
}
