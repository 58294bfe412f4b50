/**
 * `mogfileinfo` (MogileFS-Utils 2.30): file_info + every path.
 *   mogfileinfo --trackers=host --domain=foo --key='/hello.jpg'
 * Output: `- file: <key>`, then `  %8s: %20s` per sorted file_info field, then ` - <url>` per path.
 */
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'
import { sprintfS } from '../personalities/mogilefs/client/format.js'

const USAGE = "--trackers=host --domain=foo --key='/hello.jpg'"

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['key=s'])
  if (!c) return printUsage('mogfileinfo', USAGE)
  const key = c.values.key as string | undefined
  if (key === undefined || !c.domain || !c.trackers.length) return printUsage('mogfileinfo', USAGE)
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain })
  const errstr = (e: unknown) => (e instanceof MogileError ? e.errstr : (e as Error).message)
  try {
    let info: Record<string, string>
    try {
      info = await client.fileInfo(key)
    } catch (e) {
      process.stderr.write(`Error fetching file info: ${errstr(e)}\n`)
      return 255
    }
    let paths: string[]
    try {
      paths = await client.getPaths(key, { noverify: true, pathcount: 99 })
    } catch (e) {
      process.stderr.write(`Error fetching paths: ${errstr(e)}\n`)
      return 255
    }
    let out = `- file: ${key}\n`
    for (const k of Object.keys(info).sort()) out += `  ${sprintfS(k, 8)}: ${sprintfS(info[k], 20)}\n`
    for (const p of paths) out += ` - ${p}\n`
    process.stdout.write(out)
    return 0
  } finally {
    client.close()
  }
}
