/**
 * `fdfs_download_file <config_file> <file_id> [local_filename] [<download_offset> <download_bytes>]`.
 * Like V6.16.1 it prints a failure on stdout and still exits 0 (spec §12.5);
 * the local name defaults to the file id's last path component.
 */
import { connectClient, errnoOf, errText, exitCode, loadConfOrErrno, logFailure, progressBar } from './fdfs-cli-common.js'
import { decodeLocal } from '../personalities/fastdfs/client/fdfs-client.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.length < 2) {
    console.log('Usage: fdfs_download_file <config_file> <file_id> [local_filename] [<download_offset> <download_bytes>]')
    return 1
  }
  const conf = loadConfOrErrno(argv[0])
  if (typeof conf === 'number') return conf
  const client = await connectClient(conf)
  if (typeof client === 'number') return exitCode(client)
  const fileId = argv[1]
  let local = fileId.slice(fileId.lastIndexOf('/') + 1)
  let offset = 0
  let bytes = 0
  if (argv.length >= 3) {
    local = argv[2]
    if (argv.length >= 5) {
      offset = parseInt(argv[3], 10) || 0
      bytes = parseInt(argv[4], 10) || 0
    }
  }
  try {
    let size = 0
    try {
      size = bytes || Math.max(0, (decodeLocal(fileId)?.size ?? 0) - offset)
    } catch {
      size = 0
    }
    const bar = progressBar(size)
    await client.downloadToFile(fileId, local, offset, bytes, bar.onProgress).finally(() => bar.done())
  } catch (e) {
    logFailure(e)
    console.log(`download file fail, ${errText(errnoOf(e))}`)
  } finally {
    client.close()
  }
  return 0
}
