/**
 * `fdfs_monitor <client.conf> [-h <tracker_server>] [list|delete|set_trunk_server <group_name> [storage_id]]`
 *
 * Same arguments, output (including the upstream `stotal_download_bytes`
 * typo) and exit codes as V6.16.1: LIST_ALL_GROUPS (91) then LIST_STORAGE (92)
 * per group.
 */
import type { StorageDetails } from '../personalities/fastdfs/client/tracker-client.js'
import { parseHostPort } from '../config/conf-file.js'
import { DEFAULT_TRACKER_PORT, FIELD, STORAGE_STATUS_NAME, TRACKER_CMD } from '../personalities/fastdfs/protocol/constants.js'
import { fixed } from '../personalities/fastdfs/protocol/header.js'
import { FdfsClient } from '../personalities/fastdfs/client/fdfs-client.js'
import type { GroupStat, StorageStat } from '../personalities/fastdfs/tracker/monitor-codec.js'
import { errnoOf, exitCode, formatDatetime, loadConfOrErrno, logFailure, trackerConnectExit } from './fdfs-cli-common.js'
import { strerror } from '../personalities/fastdfs/client/errors.js'

const KB = 1024
const UNITS: Array<[number, string]> = [
  [KB ** 6, 'E'],
  [KB ** 5, 'P'],
  [KB ** 4, 'T'],
  [KB ** 3, 'G'],
  [KB ** 2, 'M'],
  [KB, 'K'],
]

function fmtUnit(bytes: number, unit: number): string {
  let n = Math.floor(bytes / unit)
  const remain = bytes - n * unit
  if (n < 10) {
    let frag = Math.floor((remain * 10 + Math.floor(unit / 2)) / unit)
    if (frag === 10) {
      n++
      frag = 0
    }
    return n < 10 ? `${n}.${frag}` : `${n}`
  }
  if (remain >= unit / 2) n++
  return `${n}`
}

/** libfastcommon bytes_to_human_str: `2.5 GB`, `252 GB`, `512  B`. */
export function bytesToHuman(bytes: number): string {
  if (bytes < KB) return `${bytes}  B`
  for (const [u, s] of UNITS) if (bytes >= u) return `${fmtUnit(bytes, u)} ${s}B`
  return `${bytes}  B`
}

const mbHuman = (mb: number) => bytesToHuman(mb * 1024 * 1024).padStart(7)

function unit(n: number, name: string, lead: boolean): string {
  if (n <= 0) return ''
  return `${lead ? ' ' : ''}${n} ${name}${n === 1 ? '' : 's'}`
}

/** libfastcommon seconds_to_human_str: `1 minute 5 seconds`, `0 second`. */
export function secondsToHuman(sec: number): string {
  let r = Math.max(0, sec)
  const day = Math.floor(r / 86400)
  r %= 86400
  const hour = Math.floor(r / 3600)
  r %= 3600
  const minute = Math.floor(r / 60)
  const second = r % 60
  if (day > 0) return unit(day, 'day', false) + unit(hour, 'hour', true) + unit(minute, 'minute', true) + unit(second, 'second', true)
  if (hour > 0) return unit(hour, 'hour', false) + unit(minute, 'minute', true) + unit(second, 'second', true)
  if (minute > 0) return unit(minute, 'minute', false) + unit(second, 'second', true)
  if (second > 0) return unit(second, 'second', false)
  return '0 second'
}

const RW_CAPTION: Record<number, string> = { 0: 'none (disabled)', 4: 'readonly', 2: 'writeonly', 6: 'both (normal)' }

const STAT_NAMES = [
  'total_upload_count', 'success_upload_count', 'total_append_count', 'success_append_count',
  'total_modify_count', 'success_modify_count', 'total_truncate_count', 'success_truncate_count',
  'total_set_meta_count', 'success_set_meta_count', 'total_delete_count', 'success_delete_count',
  'total_download_count', 'success_download_count', 'total_get_meta_count', 'success_get_meta_count',
  'total_create_link_count', 'success_create_link_count', 'total_delete_link_count', 'success_delete_link_count',
  'total_upload_bytes', 'success_upload_bytes', 'total_append_bytes', 'success_append_bytes',
  'total_modify_bytes', 'success_modify_bytes', 'stotal_download_bytes', 'success_download_bytes',
  'total_sync_in_bytes', 'success_sync_in_bytes', 'total_sync_out_bytes', 'success_sync_out_bytes',
  'total_file_open_count', 'success_file_open_count', 'total_file_read_count', 'success_file_read_count',
  'total_file_write_count', 'success_file_write_count',
]

/**
 * tandemfs additions under a storage (only when our tracker answered): why it
 * has its status, and per source storage how far its replica lags
 * (the source's last_source_update minus the last synced source timestamp).
 */
function formatDetail(s: StorageStat, storages: StorageStat[], details?: StorageDetails): string {
  const d = details?.find((x) => x.id === s.id && (x.port === s.storagePort || !s.storagePort))
  if (!d) return ''
  let o = `\t\tstatus reason = ${d.reason}\n`
  for (const src of storages) {
    if (src === s) continue
    const ts = d.synced[src.id] ?? 0
    const lastUpdate = src.stats.longs[38]
    const behind = ts === 0 ? (lastUpdate ? 'never synced' : 'nothing to sync') : `${Math.max(0, lastUpdate - ts)} seconds behind`
    o += `\t\tsync from ${src.id} = ${ts ? formatDatetime(ts) : '-'} (${behind})\n`
  }
  for (const [peer, p] of Object.entries(d.pushing ?? {})) {
    const records = p.behindRecords === undefined ? '' : `, ${p.behindRecords} records behind`
    o += `\t\tsync to ${peer} = ${p.behindBytes} binlog bytes behind${records}, ${p.parked} records parked${p.connected ? '' : ', not connected'}\n`
  }
  return o
}

/** The text fdfs_monitor prints for one group (list_storages). */
export function formatGroup(g: GroupStat, storages: StorageStat[], details?: StorageDetails): string {
  const avail = Math.max(0, g.freeMb - g.reservedMb)
  let o = `group name = ${g.groupName}\ndisk total space     = ${mbHuman(g.totalMb)}\ndisk free space      = ${mbHuman(g.freeMb)}\n`
  o += `disk reserved space  = ${mbHuman(g.reservedMb)}\ndisk available space = ${mbHuman(avail)}\n`
  if (g.currentTrunkFileId >= 0) o += `trunk free space = ${mbHuman(g.trunkFreeMb)}\n`
  o += `storage server count = ${g.storageCount}\nreadable server count = ${g.readableCount}\nwritable server count = ${g.writableCount}\n`
  o += `storage server port = ${g.storagePort}\nstore path count = ${g.storePathCount}\nsubdir count per path = ${g.subdirCount}\n`
  o += `current write server index = ${g.currentWriteServer}\n`
  if (g.currentTrunkFileId >= 0) {
    const t = storages.find((s) => s.ifTrunkServer)
    o += t ? `current trunk server = ${t.id} (${t.ip})\ncurrent trunk file id = ${g.currentTrunkFileId}\n\n` : '\n'
  } else o += '\n'
  storages.forEach((s, k) => {
    let maxSrc = 0
    for (const p of storages) if (p !== s && p.stats.longs[38] > maxSrc) maxSrc = p.stats.longs[38]
    const synced = s.stats.longs[40]
    const delay = maxSrc === 0 ? '' : synced === 0 ? '(never synced)' : `(${secondsToHuman(maxSrc - synced)} delay)`
    const sAvail = Math.max(0, s.freeMb - s.reservedMb)
    const st = s.stats
    o += `\tStorage ${k + 1}:\n\t\tid = ${s.id}\n\t\thost = ${s.ip}:${s.storagePort}  ${STORAGE_STATUS_NAME[s.status] === 'NONE' ? 'UNKNOWN' : (STORAGE_STATUS_NAME[s.status] ?? 'UNKNOWN')}\n`
    o += `\t\tread write mode = ${RW_CAPTION[s.rwMode] ?? 'unknown'}\n\t\tversion = ${s.version}\n`
    o += `\t\tjoin time = ${formatDatetime(s.joinTime)}\n\t\tup time = ${s.upTime ? formatDatetime(s.upTime) : ''}\n`
    o += `\t\tdisk total space     = ${mbHuman(s.totalMb)}\n\t\tdisk free space      = ${mbHuman(s.freeMb)}\n`
    o += `\t\tdisk reserved space  = ${mbHuman(s.reservedMb)}\n\t\tdisk available space = ${mbHuman(sAvail)}\n`
    o += `\t\tupload priority = ${s.uploadPriority}\n\t\tstore_path_count = ${s.storePathCount}\n\t\tsubdir_count_per_path = ${s.subdirCount}\n`
    o += `\t\tcurrent_write_path = ${s.currentWritePath}\n\t\tsource storage id = ${s.srcId}\n\t\tif_trunk_server = ${s.ifTrunkServer}\n`
    o += `\t\tconnection.alloc_count = ${st.allocCount}\n\t\tconnection.current_count = ${st.currentCount}\n\t\tconnection.max_count = ${st.maxCount}\n`
    STAT_NAMES.forEach((n, i) => (o += `\t\t${n} = ${st.longs[i]}\n`))
    o += `\t\tlast_heart_beat_time = ${formatDatetime(st.longs[41])}\n\t\tlast_source_update = ${formatDatetime(st.longs[38])}\n`
    o += `\t\tlast_sync_update = ${formatDatetime(st.longs[39])}\n\t\tlast_synced_timestamp = ${formatDatetime(synced)} ${delay}\n`
    o += formatDetail(s, storages, details)
  })
  return o
}

function usage(): void {
  console.log(
    `\nUsage:\n  fdfs_monitor <client_cfg_file> [-h <tracker_server>]\n  [list|delete|set_trunk_server <group_name> [storage_id]]\n\n` +
      `Note:\n  the tracker server format: host[:port], the tracker default port is ${DEFAULT_TRACKER_PORT}\n` +
      `  fdfs_monitor without parameter equals: fdfs_monitor /etc/fdfs/client.conf\n`,
  )
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && argv[0] === '-h') {
    usage()
    return 0
  }
  const confFile = argv.length === 0 ? '/etc/fdfs/client.conf' : argv[0]
  let i = 1
  let op = 'list'
  let trackerArg: string | undefined
  if (i < argv.length) {
    if (argv[i].startsWith('-h')) {
      if (argv[i] === '-h') {
        i++
        if (i >= argv.length) {
          usage()
          return 1
        }
        trackerArg = argv[i++]
      } else trackerArg = argv[i++].slice(2)
      if (i < argv.length) op = argv[i++]
    } else op = argv[i++]
  }
  const conf = loadConfOrErrno(confFile)
  if (typeof conf === 'number') return conf
  let index = 0
  if (trackerArg) {
    let hp: { host: string; port: number }
    try {
      hp = parseHostPort(trackerArg, DEFAULT_TRACKER_PORT)
    } catch {
      console.log(`resolve ip address of tracker server: ${trackerArg} fail!, error info: Unknown host`)
      return 22
    }
    index = conf.trackers.findIndex((t) => t.host === hp.host && t.port === hp.port)
    if (index < 0) {
      console.log(`tracker server: ${trackerArg} not exists!`)
      return 2
    }
  } else if (conf.trackers.length > 1) index = Math.floor(Math.random() * conf.trackers.length)
  console.log(`tracker server count=${conf.trackers.length}, current server index=${index}`)
  const tracker = conf.trackers[index]
  const client = new FdfsClient({ ...conf, trackers: [tracker] })
  try {
    try {
      await client.tracker.activeTest()
    } catch (e) {
      logFailure(e)
      return trackerConnectExit(e)
    }
    console.log(`\ntracker server is ${tracker.host}:${tracker.port}\n`)
    const group = i < argv.length ? argv[i++] : undefined
    if (op === 'list') {
      let groups: GroupStat[]
      try {
        groups = await client.tracker.listGroups()
      } catch (e) {
        logFailure(e)
        return exitCode(errnoOf(e))
      }
      if (group === undefined) {
        console.log(`group count: ${groups.length}`)
        for (let k = 0; k < groups.length; k++) {
          process.stdout.write(`\nGroup ${k + 1}:\n`)
          const st = await client.tracker.listStorages(groups[k].groupName).catch(() => undefined)
          if (st) process.stdout.write(formatGroup(groups[k], st, await client.tracker.storageDetails(groups[k].groupName)))
        }
      } else {
        const g = groups.find((x) => x.groupName === group)
        if (g) {
          const st = await client.tracker.listStorages(g.groupName).catch(() => undefined)
          if (st) process.stdout.write(formatGroup(g, st, await client.tracker.storageDetails(g.groupName)))
        }
      }
    } else if (op === 'delete') {
      if (i >= argv.length) {
        try {
          await client.tracker.deleteGroup(group ?? '')
          console.log(`delete group: ${group} success`)
        } catch (e) {
          const n = errnoOf(e)
          console.log(`delete group: ${group} fail, error no: ${n}, error info: ${strerror(n)}`)
        }
      } else {
        const id = argv[i++]
        try {
          await client.tracker.deleteStorage(group ?? '', id)
          console.log(`delete storage server ${group}::${id} success`)
        } catch (e) {
          const n = errnoOf(e)
          console.log(`delete storage server ${group}::${id} fail, error no: ${n}, error info: ${strerror(n)}`)
        }
      }
    } else if (op === 'set_trunk_server') {
      if (group === undefined) {
        usage()
        return 1
      }
      const id = i < argv.length ? argv[i++] : ''
      try {
        const b = await client.tracker.withTracker((c) => c.call(TRACKER_CMD.SERVER_SET_TRUNK_SERVER, [fixed(group, FIELD.GROUP_NAME), Buffer.from(id)], 64))
        console.log(`set trunk server ${group}::${id} success, new trunk server: ${b.toString('latin1').replace(/\0.*$/, '')}`)
      } catch (e) {
        const n = errnoOf(e)
        console.log(`set trunk server ${group}::${id} fail, error no: ${n}, error info: ${strerror(n)}`)
      }
    } else {
      console.log(`Invalid command ${op}\n`)
      usage()
    }
    return 0
  } finally {
    client.close()
  }
}
