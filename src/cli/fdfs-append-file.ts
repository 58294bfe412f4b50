/** `fdfs_append_file <config_file> <appender_file_id> <local_filename>` (V6.16.1 output and exit codes). */
import { stat } from 'node:fs/promises'
import { connectClient, errnoOf, errText, exitCode, loadConfOrErrno, logFailure, progressBar } from './fdfs-cli-common.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.length < 3) {
    console.log('Usage: fdfs_append_file <config_file> <appender_file_id> <local_filename>')
    return 1
  }
  const conf = loadConfOrErrno(argv[0])
  if (typeof conf === 'number') return conf
  const client = await connectClient(conf)
  if (typeof client === 'number') return exitCode(client)
  try {
    const size = await stat(argv[2]).then((s) => s.size, () => 0)
    const bar = progressBar(size)
    await client.append(argv[1], argv[2], bar.onProgress).finally(() => bar.done())
    return 0
  } catch (e) {
    logFailure(e)
    const n = errnoOf(e)
    console.log(`append file fail, ${errText(n)}`)
    return exitCode(n)
  } finally {
    client.close()
  }
}
