/**
 * `mogrename` (MogileFS-Utils 2.30): rename a key.
 *   mogrename --trackers=host --domain=foo --old_key='/hello.jpg' --new_key='/bye.jpg'
 */
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = "--trackers=host --domain=foo --class=bar --old_key='/hello.jpg' --new_key='/bye.jpg'"

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['old_key=s', 'new_key=s'])
  if (!c) return printUsage('mogrename', USAGE)
  const from = c.values.old_key as string | undefined
  const to = c.values.new_key as string | undefined
  if (from === undefined || to === undefined || !c.domain || !c.trackers.length) return printUsage('mogrename', USAGE)
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain })
  try {
    await client.rename(from, to)
    return 0
  } catch (e) {
    process.stderr.write(`Error renaming file (key) from ${e instanceof MogileError ? e.errstr : (e as Error).message}\n`)
    return 255
  } finally {
    client.close()
  }
}
