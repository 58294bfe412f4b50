/**
 * FastDFS V6.16.1 wire constants (command codes, field widths, status values).
 * Facts from ../shared/spec/fastdfs.md sections 3-4 and 7.
 */

export const HEADER_SIZE = 10
export const RESP = 100

/** Tracker commands. */
export const TRACKER_CMD = {
  SERVER_LIST_ONE_GROUP: 90,
  SERVER_LIST_ALL_GROUPS: 91,
  SERVER_LIST_STORAGE: 92,
  SERVER_DELETE_STORAGE: 93,
  SERVER_SET_TRUNK_SERVER: 94,
  SERVER_GET_LEADER: 95,
  /** tandemfs extension (not in FastDFS): per-storage status reason and per-source synced timestamps, JSON. */
  TANDEM_STORAGE_DETAIL: 250,
  /** tandemfs extension: a storage's sync senders' progress (JSON); a real tracker answers EINVAL and is not asked again. */
  TANDEM_SYNC_PROGRESS: 251,
  TRACKER_CLUSTER_STAT: 96,
  STORAGE_CLUSTER_STAT: 97,
  STORAGE_VOLUMN_STAT: 98,
  QUERY_STORE_WITHOUT_GROUP_ONE: 101,
  QUERY_FETCH_ONE: 102,
  QUERY_UPDATE: 103,
  QUERY_STORE_WITH_GROUP_ONE: 104,
  QUERY_FETCH_ALL: 105,
  QUERY_STORE_WITHOUT_GROUP_ALL: 106,
  QUERY_STORE_WITH_GROUP_ALL: 107,
  SERVER_DELETE_GROUP: 108,
  STORAGE_GET_GROUP_NAME: 109,
  // storage -> tracker
  STORAGE_CHANGE_STATUS: 59,
  STORAGE_GET_MY_IP: 60,
  STORAGE_FETCH_STORAGE_IDS: 69,
  STORAGE_GET_SERVER_ID: 70,
  STORAGE_GET_STATUS: 71,
  STORAGE_PARAMETER_REQ: 75,
  STORAGE_REPORT_STATUS: 76,
  STORAGE_CHANGELOG_REQ: 77,
  STORAGE_REPORT_IP_CHANGED: 78,
  STORAGE_SYNC_DEST_QUERY: 79,
  STORAGE_JOIN: 81,
  STORAGE_BEAT: 83,
  STORAGE_REPORT_DISK_USAGE: 84,
  STORAGE_REPLICA_CHG: 85,
  STORAGE_SYNC_SRC_REQ: 86,
  STORAGE_SYNC_DEST_REQ: 87,
  STORAGE_SYNC_NOTIFY: 88,
  STORAGE_SYNC_REPORT: 89,
  // tracker <-> tracker (leader election)
  TRACKER_JOIN_LEADER: 58,
  TRACKER_GET_STATUS: 64,
  TRACKER_PING_LEADER: 65,
  TRACKER_NOTIFY_NEXT_LEADER: 66,
  TRACKER_COMMIT_NEXT_LEADER: 67,
  TRACKER_NOTIFY_RESELECT_LEADER: 68,
} as const

/** Storage commands. */
export const STORAGE_CMD = {
  REPORT_SERVER_ID: 9,
  UPLOAD_FILE: 11,
  DELETE_FILE: 12,
  SET_METADATA: 13,
  DOWNLOAD_FILE: 14,
  GET_METADATA: 15,
  SYNC_CREATE_FILE: 16,
  SYNC_DELETE_FILE: 17,
  SYNC_UPDATE_FILE: 18,
  SYNC_CREATE_LINK: 19,
  CREATE_LINK: 20,
  UPLOAD_SLAVE_FILE: 21,
  QUERY_FILE_INFO: 22,
  UPLOAD_APPENDER_FILE: 23,
  APPEND_FILE: 24,
  SYNC_APPEND_FILE: 25,
  FETCH_ONE_PATH_BINLOG: 26,
  MODIFY_FILE: 34,
  SYNC_MODIFY_FILE: 35,
  TRUNCATE_FILE: 36,
  SYNC_TRUNCATE_FILE: 37,
  REGENERATE_APPENDER_FILENAME: 38,
  SYNC_RENAME_FILE: 40,
  /**
   * tandemfs extension (not in FastDFS): "do you take pipelined requests?". Our storages answer
   * status 0; a real V6.16.1 storage answers EINVAL, logs "unknown cmd: -4" and closes the
   * connection. Why it matters: the real storage serves one request per connection at a time on
   * edge-triggered epoll, and a whole request that arrives while it is busy with the previous one
   * is never read (the connection hangs), so a sync sender may pipeline only to our storages.
   * Sent on a connection of its own, once per sync (re)connect (peer-sender.ts).
   */
  TANDEM_PIPELINE_PROBE: 252,
} as const

export const COMMON_CMD = {
  QUIT: 82,
  ACTIVE_TEST: 111,
} as const

/** errno values FastDFS puts in the status byte. */
export const ERRNO = {
  OK: 0,
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  ECONNREFUSED: 111,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const

export const FIELD = {
  GROUP_NAME: 16,
  STORAGE_ID: 16,
  VERSION: 8,
  FILE_EXT: 6,
  FILE_PREFIX: 16,
  META_NAME: 64,
  META_VALUE: 256,
  /** IPv4 address field in monitor structs / file info (16) — query replies use 15. */
  IP_ADDRESS: 16,
  /** IP field in query replies (101-107) in IPv4 mode. */
  QUERY_IP: 15,
  /** IP field in join body and briefs (IP_ADDRESS_SIZE, always 46). */
  IP_ADDRESS_FULL: 46,
  STORAGE_BRIEF: 67,
  MAX_SERVERS_PER_GROUP: 32,
  MAX_TRACKERS: 16,
  MAX_GROUPS: 512,
  GROUP_STAT: 113,
  STORAGE_STAT: 487,
  STATS_BLOCK: 348,
} as const

/** Storage status values (order matters: the C code compares them). */
export const STORAGE_STATUS = {
  INIT: 0,
  WAIT_SYNC: 1,
  SYNCING: 2,
  IP_CHANGED: 3,
  DELETED: 4,
  OFFLINE: 5,
  ONLINE: 6,
  ACTIVE: 7,
  RECOVERY: 9,
  NONE: 99,
} as const

export const STORAGE_STATUS_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(STORAGE_STATUS).map(([k, v]) => [v, k]),
)

/** Metadata wire separators. */
export const META_RECORD_SEP = 0x01
export const META_FIELD_SEP = 0x02

/**
 * QUERY_FILE_INFO flags carried in the request header's status byte. LOCAL_ONLY is a tandemfs
 * extension: answer about this storage's own copy and never proxy to the creator (replication
 * probes need that); the real storage only tests bits 1 and 2, so it ignores it.
 */
export const QUERY_FINFO_FLAGS = { NOT_CALC_CRC32: 1, KEEP_SILENT: 2, LOCAL_ONLY: 4 } as const

/** Version string we report (the one real V6.16.1 clients and monitors expect to parse). */
export const FDFS_VERSION = '6.16.1'

/** Default ports (fdfs_define.h). */
export const DEFAULT_TRACKER_PORT = 22122
export const DEFAULT_STORAGE_PORT = 23000

/** Hard cap on non-file request bodies (the real servers cap at buff_size 256 KB). */
export const MAX_CONTROL_BODY = 256 * 1024
