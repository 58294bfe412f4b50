/**
 * `fdfs_file_info [options] <config_file> <file_id>` (-s keep silent, -n no CRC32).
 * Normal files are decoded from the name alone ("GET FROM SERVER: false", no
 * network); appender and slave files are asked with QUERY_FILE_INFO (22).
 * Output and exit codes as V6.16.1 (a failed query still exits 0).
 */
import { decodeLocal, FdfsClient, splitFileId } from '../personalities/fastdfs/client/fdfs-client.js'
import { QUERY_FINFO_FLAGS } from '../personalities/fastdfs/protocol/constants.js'
import { errnoOf, errText, formatDatetime, loadConfOrErrno, logError, logFailure } from './fdfs-cli-common.js'

function usage(): void {
  process.stderr.write(
    'Usage: fdfs_file_info [options] <config_file> <file_id>\n  options: \n' +
      '    -s: keep silence, when this file not exist, do not log error on storage server\n' +
      '    -n: do NOT calculate CRC32 for appender file or slave file\n\n',
  )
}

export async function main(argv: string[]): Promise<number> {
  let flags = 0
  const pos: string[] = []
  for (const a of argv) {
    if (a.startsWith('-') && a.length > 1 && pos.length < 2) {
      for (const ch of a.slice(1)) {
        if (ch === 'n') flags |= QUERY_FINFO_FLAGS.NOT_CALC_CRC32
        else if (ch === 's') flags |= QUERY_FINFO_FLAGS.KEEP_SILENT
        else {
          usage()
          return 1
        }
      }
    } else pos.push(a)
  }
  if (pos.length < 2) {
    usage()
    return 1
  }
  const conf = loadConfOrErrno(pos[0])
  if (typeof conf === 'number') return conf
  const fileId = pos[1]
  let remote: string
  try {
    remote = splitFileId(fileId).remote
  } catch {
    process.stderr.write(`query file info fail, ${errText(22)}\n`)
    return 0
  }
  if (remote.length < 44) {
    logError(`filename is too short, length: ${remote.length} < 44`)
    process.stderr.write(`query file info fail, ${errText(22)}\n`)
    return 0
  }
  const local = decodeLocal(fileId)
  if (local && local.sourceId && !local.sourceIp) local.sourceIp = conf.storageIds.find((e) => e.id === String(local.sourceId))?.ip ?? ''
  if (!local) {
    process.stderr.write(`query file info fail, ${errText(22)}\n`)
    return 0
  }
  let fromServer = false
  let info = { ip: local.sourceIp, ts: local.createTimestamp, size: local.size, crc: local.crc32 }
  if (local.type !== 'normal' || !local.sourceIp) {
    fromServer = true
    const client = new FdfsClient(conf)
    try {
      const r = await client.queryFileInfo(fileId, flags)
      info = { ip: r.sourceIp, ts: r.createTimestamp, size: r.size, crc: r.crc32 | 0 }
    } catch (e) {
      logFailure(e)
      process.stderr.write(`query file info fail, ${errText(errnoOf(e))}\n`)
      return 0
    } finally {
      client.close()
    }
  }
  let out = `GET FROM SERVER: ${fromServer}\n\nfile type: ${local.type}\nsource storage id: ${local.sourceId}\n`
  out += `source ip address: ${info.ip}\nfile create timestamp: ${formatDatetime(info.ts)}\nfile size: ${info.size}\n`
  if ((flags & QUERY_FINFO_FLAGS.NOT_CALC_CRC32) === 0 || info.crc !== 0) {
    out += `file crc32: ${info.crc | 0} (0x${(info.crc >>> 0).toString(16).padStart(8, '0')})\n`
  }
  process.stdout.write(out + '\n')
  return 0
}
