/**
 * `mogupload` (MogileFS-Utils 2.30): store a file (or stdin with `--file=-`).
 *   mogupload --trackers=host --domain=foo --key='/hello.jpg' --file='./hello.jpg' [--class=c]
 * Silent on success; errors on stderr with exit 255 (Perl's die).
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { closeHttpAgent } from '../personalities/mogilefs/client/http-transfer.js'
import { progressBar } from '../personalities/mogilefs/client/progress.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = "--trackers=host --domain=foo --key='/hello.jpg' --file='./hello.jpg'"

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['class=s', 'key=s', 'file=s'])
  if (!c) return printUsage('mogupload', USAGE)
  const file = c.values.file as string | undefined
  const key = c.values.key as string | undefined
  if (!file || key === undefined || !c.domain || !c.trackers.length) return printUsage('mogupload', USAGE)
  let size: number | undefined
  if (file !== '-') {
    const st = await stat(file).catch(() => undefined)
    if (!st) return die(`Could not stat ${file}`)
    size = st.size
  }
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain })
  const bar = progressBar(size, key)
  try {
    await client.store(key, file === '-' ? process.stdin : () => createReadStream(file, { highWaterMark: 1024 * 1024 }), {
      class: (c.values.class as string | undefined) || undefined,
      size,
      onProgress: bar.update,
    })
    bar.done()
    return 0
  } catch (e) {
    bar.done()
    const err = e as MogileError
    if (err instanceof MogileError && err.fromTracker && !['size_mismatch', 'size_verify_error', 'checksum_mismatch', 'no_temp_file'].includes(err.code)) {
      // create_open refused (unreg_class, no_devices, ...).
      return die(`Error opening MogileFS file: ${err.errstr}`)
    }
    return die(`Error writing file: ${err instanceof MogileError ? err.errstr : (e as Error).message}`)
  } finally {
    client.close()
    closeHttpAgent()
  }
}

function die(msg: string): number {
  process.stderr.write(msg + '\n')
  return 255
}
