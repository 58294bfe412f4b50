/**
 * `moglistkeys` (MogileFS-Utils 2.30): print every key with a prefix, one per line.
 *   moglistkeys --trackers=host --domain=foo --key_prefix='bar/'
 * Nothing matching → "Error listing files: none_match No keys match ..." exit 255.
 */
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = "--trackers=host --domain=foo --key_prefix='bar/'"

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['key_prefix=s'])
  if (!c) return printUsage('moglistkeys', USAGE)
  if (!c.domain || !c.trackers.length) return printUsage('moglistkeys', USAGE)
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain })
  try {
    let buf = ''
    for await (const k of client.keys((c.values.key_prefix as string | undefined) ?? '')) {
      buf += k + '\n'
      if (buf.length > 65536) {
        await write(buf)
        buf = ''
      }
    }
    await write(buf)
    return 0
  } catch (e) {
    process.stderr.write(`Error listing files: ${e instanceof MogileError ? e.errstr : (e as Error).message}\n`)
    return 255
  } finally {
    client.close()
  }
}

function write(s: string): Promise<void> {
  return new Promise((r) => (s ? process.stdout.write(s, () => r()) : r()))
}
