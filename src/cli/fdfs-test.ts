/**
 * `fdfs_test <config_file> <operation> ...`: the subset of the V6.16.1 test
 * program scripts use — upload <local_filename>, download|getmeta|delete|
 * query_servers <group> <remote>, setmeta <group> <remote> <O|M> "k=v,k2=v2" —
 * with the same lines and exit codes (after a successful query the exit code
 * is 0 even if the storage operation failed, as upstream).
 */
import { basename } from 'node:path'
import { parseMetaText, type MetaPair } from '../personalities/fastdfs/metadata.js'
import { decodeLocal, extOf, fileBody, FdfsClient } from '../personalities/fastdfs/client/fdfs-client.js'
import * as SC from '../personalities/fastdfs/client/storage-client.js'
import { errnoOf, errText, exitCode, formatDatetime, loadConfOrErrno, logFailure, trackerConnectExit } from './fdfs-cli-common.js'

const BANNER =
  'This is FastDFS client test program v6.16.1\n\nCopyright (C) 2008, Happy Fish / YuQing\n\n' +
  'FastDFS may be copied only under the terms of the GNU General\nPublic License V3, which may be found in the FastDFS source kit.\n' +
  'Please visit the FastDFS Home Page http://www.fastken.com/ \nfor more detail.\n\n'

const DEMO_META: MetaPair[] = [
  ['ext_name', 'jpg'],
  ['width', '160'],
  ['height', '80'],
  ['file_size', '115120'],
].map(([n, v]) => ({ name: Buffer.from(n), value: Buffer.from(v) }))

const out = (s: string) => process.stdout.write(s)

async function infoLines(client: FdfsClient, fileId: string, host: string): Promise<void> {
  const local = decodeLocal(fileId)
  let ip = local?.sourceIp ?? ''
  let ts = local?.createTimestamp ?? 0
  let size = local?.size ?? 0
  let crc = local?.crc32 ?? 0
  if (local && local.type !== 'normal') {
    const r = await client.queryFileInfo(fileId).catch(() => undefined)
    if (r) ({ sourceIp: ip, createTimestamp: ts, size, crc32: crc } = r)
  }
  out(`source ip address: ${ip}\nfile timestamp=${formatDatetime(ts)}\nfile size=${size}\nfile crc32=${crc >>> 0}\n`)
  out(`example file url: http://${host}/${fileId}\n`)
}

async function upload(client: FdfsClient, local: string): Promise<number> {
  try {
    const all = await client.tracker.queryStoreAll()
    out('tracker_query_storage_store_list_without_group: \n')
    all.forEach((s, i) => out(`\tserver ${i + 1}. group_name=, ip_addr=${s.host}, port=${s.port}\n`))
    out('\n')
  } catch {
    // upstream ignores a failed list query
  }
  let target
  try {
    target = await client.tracker.queryStore()
  } catch (e) {
    const n = errnoOf(e)
    out(`tracker_query_storage fail, ${errText(n)}\n`)
    return exitCode(n)
  }
  out(`group_name=${target.group}, ip_addr=${target.host}, port=${target.port}\n`)
  const ext = extOf(local)
  let masterId: string
  try {
    const body = await fileBody(local)
    masterId = await client.upload(body, ext, { storage: target, storePathIndex: target.storePathIndex, meta: DEMO_META })
    out('storage_upload_by_filename\n')
  } catch (e) {
    out('storage_upload_by_filename\n')
    logFailure(e)
    const n = errnoOf(e)
    out(`upload file fail, ${errText(n)}\n`)
    return exitCode(n)
  }
  const [group, ...rest] = masterId.split('/')
  out(`group_name=${group}, remote_filename=${rest.join('/')}\n`)
  await infoLines(client, masterId, target.host)
  let slaveId: string
  try {
    slaveId = await client.uploadSlave(await fileBody(local), masterId, '_big', ext, DEMO_META)
    out('storage_upload_slave_by_filename\n')
  } catch (e) {
    out('storage_upload_slave_by_filename\n')
    const n = errnoOf(e)
    out(`upload slave file fail, ${errText(n)}\n`)
    return exitCode(n)
  }
  const [sg, ...srest] = slaveId.split('/')
  out(`group_name=${sg}, remote_filename=${srest.join('/')}\n`)
  await infoLines(client, slaveId, target.host)
  return 0
}

async function onFile(client: FdfsClient, op: string, group: string, remote: string, args: string[]): Promise<number> {
  const fileId = `${group}/${remote}`
  if (op === 'query_servers') {
    try {
      const list = await client.tracker.queryFetchAll(group, remote)
      out(`server list (${list.length}):\n`)
      for (const s of list) out(`\t${s.host}:${s.port}\n`)
      out('\n')
      return 0
    } catch (e) {
      const n = errnoOf(e)
      out(`tracker_query_storage_list fail, group_name=${group}, filename=${remote}, ${errText(n)}\n`)
      return exitCode(n)
    }
  }
  let s
  try {
    s = op === 'setmeta' || op === 'delete' ? await client.tracker.queryUpdate(group, remote) : await client.tracker.queryFetch(group, remote)
  } catch (e) {
    const n = errnoOf(e)
    out(`tracker_query_storage_fetch fail, group_name=${group}, filename=${remote}, ${errText(n)}\n`)
    return exitCode(n)
  }
  out(`storage=${s.host}:${s.port}\n`)
  try {
    if (op === 'download') {
      const local = basename(remote)
      const n = await client.downloadToFile(fileId, local)
      out(`download file success, file size=${n}, file save to ${local}\n`)
    } else if (op === 'getmeta') {
      const meta = await client.pool.with(s, (c) => SC.getMetadata(c, group, remote))
      out(`get meta data success, meta count=${meta.length}\n`)
      for (const m of meta) out(`${m.name.toString()}=${m.value.toString()}\n`)
    } else if (op === 'setmeta') {
      const flag = args[0]?.[0] === 'M' ? 'M' : 'O'
      await client.pool.with(s, (c) => SC.setMetadata(c, group, remote, parseMetaText(args[1] ?? ''), flag))
      out('set meta data success\n')
    } else {
      await client.pool.with(s, (c) => SC.deleteFile(c, group, remote))
      out('delete file success\n')
    }
  } catch (e) {
    const n = errnoOf(e)
    const what = op === 'getmeta' ? 'getmeta fail' : op === 'setmeta' ? 'setmeta fail' : `${op} file fail`
    out(`${what}, ${errText(n)}\n`)
  }
  return 0
}

export async function main(argv: string[]): Promise<number> {
  out(BANNER)
  if (argv.length < 2) {
    out('Usage: fdfs_test <config_file> <operation>\n\toperation: upload, download, getmeta, setmeta, delete and query_servers\n')
    return 1
  }
  const conf = loadConfOrErrno(argv[0])
  if (typeof conf === 'number') return conf
  const op = argv[1]
  const client = new FdfsClient(conf)
  try {
    try {
      await client.tracker.activeTest()
    } catch (e) {
      logFailure(e)
      return trackerConnectExit(e)
    }
    if (op === 'upload') {
      if (argv.length < 3) {
        out('Usage: fdfs_test <config_file> upload <local_filename> [FILE | BUFF | CALLBACK] \n')
        return 22
      }
      return await upload(client, argv[2])
    }
    if (['download', 'getmeta', 'setmeta', 'query_servers', 'delete'].includes(op)) {
      if (argv.length < 4) {
        out(`Usage: fdfs_test <config_file> ${op} <group_name> <remote_filename>\n`)
        return 22
      }
      if (op === 'setmeta' && argv.length < 6) {
        out(`Usage: fdfs_test <config_file> ${op} <group_name> <remote_filename> <op_flag> <metadata_list>\n\top_flag: O for overwrite, M for merge\n\tmetadata_list: name1=value1,name2=value2,...\n`)
        return 22
      }
      return await onFile(client, op, argv[2], argv[3], argv.slice(4))
    }
    out(`invalid operation: ${op}\n`)
    return 22
  } finally {
    client.close()
  }
}
