/** `fdfs_delete_file <config_file> <file_id>`: exits with the errno (2 when already gone), as V6.16.1. */
import { connectClient, errnoOf, errText, exitCode, loadConfOrErrno, logFailure } from './fdfs-cli-common.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.length < 2) {
    console.log('Usage: fdfs_delete_file <config_file> <file_id>')
    return 1
  }
  const conf = loadConfOrErrno(argv[0])
  if (typeof conf === 'number') return conf
  const client = await connectClient(conf)
  if (typeof client === 'number') return exitCode(client)
  try {
    await client.delete(argv[1])
    return 0
  } catch (e) {
    logFailure(e)
    const n = errnoOf(e)
    console.log(`delete file fail, ${errText(n)}`)
    return exitCode(n)
  } finally {
    client.close()
  }
}
