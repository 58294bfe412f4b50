/**
 * `mogdelete` (MogileFS-Utils 2.30): delete a key.
 *   mogdelete --trackers=host --domain=foo --key='/hello.jpg'
 * Unlike the library's delete(), a missing key is an error here:
 * "Error deleting file: unknown_key unknown_key", exit 255.
 */
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = "--trackers=host --domain=foo --key='/hello.jpg'"

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['key=s'])
  if (!c) return printUsage('mogdelete', USAGE)
  const key = c.values.key as string | undefined
  if (key === undefined || !c.domain || !c.trackers.length) return printUsage('mogdelete', USAGE)
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain })
  try {
    await client.delete(key, true)
    return 0
  } catch (e) {
    process.stderr.write(`Error deleting file: ${e instanceof MogileError ? e.errstr : (e as Error).message}\n`)
    return 255
  } finally {
    client.close()
  }
}
