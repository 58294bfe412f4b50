/**
 * The V6.16.1 STORAGE_JOIN (81) body (spec §7.2 step 4), 145-byte fixed part:
 *
 *   group 17 | port 8 | store_path_count 8 | subdir_count 8 | upload_priority 8 |
 *   join_time 8 | up_time 8 | version 8 | init_flag 1 | status 1 |
 *   storage_id 16 | current tracker ip 46 | tracker_count 8
 *
 * then `tracker_count` lines `ip:port\n`. Parsed by the tracker; encoded by
 * storages (encodeJoin, used by our storage daemon and tests).
 */
import { ERRNO, FIELD } from '../protocol/constants.js'
import { getFixed, putFixed } from '../protocol/header.js'

export const JOIN_FIXED_SIZE = 145
/** FDFS_MAX_MULTI_IP_PORT_SIZE-ish bound per tracker line (generous; real lines are < 64 bytes). */
const MAX_TRACKER_LINE = 256

export interface JoinBody {
  group: string
  port: number
  storePathCount: number
  subdirCount: number
  uploadPriority: number
  joinTime: number
  upTime: number
  version: string
  initFlag: boolean
  status: number
  storageId: string
  currentTrackerIp: string
  trackers: string[]
}

const GROUP_RE = /^[A-Za-z0-9_-]{1,16}$/

/** Parse and validate a join body; `{errno, why}` for anything the real tracker rejects. */
export function parseJoin(b: Buffer): JoinBody | { errno: number; why: string } {
  const bad = (why: string) => ({ errno: ERRNO.EINVAL, why })
  if (b.length < JOIN_FIXED_SIZE) return bad(`body ${b.length} < ${JOIN_FIXED_SIZE} bytes`)
  const count = Number(b.readBigInt64BE(137))
  if (count <= 0 || count > FIELD.MAX_TRACKERS) return bad(`tracker_count ${count} out of range`)
  if (b.length > JOIN_FIXED_SIZE + count * MAX_TRACKER_LINE) return bad('body too long')
  const group = getFixed(b, 0, FIELD.GROUP_NAME)
  if (!GROUP_RE.test(group)) return bad(`invalid group name ${JSON.stringify(group)}`)
  const port = Number(b.readBigInt64BE(17))
  if (port <= 0 || port > 65535) return bad(`invalid port ${port}`)
  const storePathCount = Number(b.readBigInt64BE(25))
  if (storePathCount <= 0 || storePathCount > 256) return bad(`invalid store_path_count ${storePathCount}`)
  const subdirCount = Number(b.readBigInt64BE(33))
  if (subdirCount <= 0 || subdirCount > 256) return bad(`invalid subdir_count_per_path ${subdirCount}`)
  const text = b.toString('latin1', JOIN_FIXED_SIZE)
  const lines = text.split('\n')
  if (lines.length - 1 < count) return bad('expected one new line per tracker')
  const trackers = lines.slice(0, count)
  for (const t of trackers) if (!/^\[?[0-9A-Za-z.:_-]+\]?(:\d+)?$/.test(t)) return bad(`invalid tracker address ${JSON.stringify(t)}`)
  return {
    group,
    port,
    storePathCount,
    subdirCount,
    uploadPriority: Number(b.readBigInt64BE(41)),
    joinTime: Number(b.readBigInt64BE(49)),
    upTime: Number(b.readBigInt64BE(57)),
    version: getFixed(b, 65, FIELD.VERSION),
    initFlag: b[73] !== 0,
    status: b.readInt8(74) < 0 ? 0 : b[74],
    storageId: getFixed(b, 75, FIELD.STORAGE_ID),
    currentTrackerIp: getFixed(b, 91, FIELD.IP_ADDRESS_FULL),
    trackers,
  }
}

/** Build a join body (storage side, tests). */
export function encodeJoin(j: JoinBody): Buffer {
  const lines = Buffer.from(j.trackers.map((t) => `${t}\n`).join(''), 'latin1')
  const b = Buffer.alloc(JOIN_FIXED_SIZE + lines.length)
  putFixed(b, 0, FIELD.GROUP_NAME + 1, j.group)
  b.writeBigInt64BE(BigInt(j.port), 17)
  b.writeBigInt64BE(BigInt(j.storePathCount), 25)
  b.writeBigInt64BE(BigInt(j.subdirCount), 33)
  b.writeBigInt64BE(BigInt(j.uploadPriority), 41)
  b.writeBigInt64BE(BigInt(j.joinTime), 49)
  b.writeBigInt64BE(BigInt(j.upTime), 57)
  putFixed(b, 65, FIELD.VERSION, j.version)
  b[73] = j.initFlag ? 1 : 0
  b[74] = j.status
  putFixed(b, 75, FIELD.STORAGE_ID, j.storageId)
  putFixed(b, 91, FIELD.IP_ADDRESS_FULL, j.currentTrackerIp)
  b.writeBigInt64BE(BigInt(j.trackers.length), 137)
  lines.copy(b, JOIN_FIXED_SIZE)
  return b
}
