/**
 * `fdfs_upload_file <config_file> <local_filename> [storage_ip:port] [store_path_index]`:
 * upload one file, print its file id. Same output and exit codes as V6.16.1.
 */
import { stat } from 'node:fs/promises'
import { parseHostPort } from '../config/conf-file.js'
import { DEFAULT_STORAGE_PORT } from '../personalities/fastdfs/protocol/constants.js'
import { connectClient, errnoOf, errText, exitCode, loadConfOrErrno, logFailure, progressBar } from './fdfs-cli-common.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.length < 2) {
    console.log('Usage: fdfs_upload_file <config_file> <local_filename> [storage_ip:port] [store_path_index]')
    return 1
  }
  const conf = loadConfOrErrno(argv[0])
  if (typeof conf === 'number') return conf
  const client = await connectClient(conf)
  if (typeof client === 'number') return exitCode(client)
  try {
    let storage: { host: string; port: number } | undefined
    let storePathIndex: number | undefined
    if (argv.length >= 3) {
      try {
        storage = parseHostPort(argv[2], DEFAULT_STORAGE_PORT)
      } catch {
        process.stderr.write(`resolve ip address of storage server: ${argv[2]} fail!, error info: Unknown host\n`)
        return 22
      }
      storePathIndex = argv.length >= 4 ? parseInt(argv[3], 10) || 0 : -1
    }
    if (!storage) {
      try {
        const t = await client.tracker.queryStore()
        storage = { host: t.host, port: t.port }
        storePathIndex = t.storePathIndex
      } catch (e) {
        logFailure(e)
        const n = errnoOf(e)
        process.stderr.write(`tracker_query_storage fail, ${errText(n)}\n`)
        return exitCode(n)
      }
    }
    const size = await stat(argv[1]).then((s) => s.size, () => 0)
    const bar = progressBar(size)
    try {
      const id = await client.upload(argv[1], undefined, { storage, storePathIndex, onProgress: bar.onProgress })
      bar.done()
      console.log(id)
      return 0
    } catch (e) {
      bar.done()
      logFailure(e)
      const n = errnoOf(e)
      process.stderr.write(`upload file fail, ${errText(n)}\n`)
      return exitCode(n)
    }
  } finally {
    client.close()
  }
}
