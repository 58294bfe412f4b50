/**
 * `fdfs_upload_appender <config_file> <local_filename>`: upload an appender
 * file and print its file id (V6.16.1 output and exit codes).
 */
import { stat } from 'node:fs/promises'
import { connectClient, errnoOf, errText, exitCode, loadConfOrErrno, logFailure, progressBar } from './fdfs-cli-common.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.length < 2) {
    console.log('Usage: fdfs_upload_appender <config_file> <local_filename>')
    return 1
  }
  const conf = loadConfOrErrno(argv[0])
  if (typeof conf === 'number') return conf
  const client = await connectClient(conf)
  if (typeof client === 'number') return exitCode(client)
  try {
    let t
    try {
      t = await client.tracker.queryStore()
    } catch (e) {
      logFailure(e)
      const n = errnoOf(e)
      process.stderr.write(`tracker_query_storage fail, ${errText(n)}\n`)
      return exitCode(n)
    }
    const size = await stat(argv[1]).then((s) => s.size, () => 0)
    const bar = progressBar(size)
    try {
      const id = await client.upload(argv[1], undefined, { appender: true, storage: t, storePathIndex: t.storePathIndex, onProgress: bar.onProgress })
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
