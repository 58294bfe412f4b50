/**
 * `moglistfids` (MogileFS-Utils 2.30): list fids after `--fromfid`, up to `--count` (default 100).
 *   moglistfids --trackers=host --fromfid=123 --count=5000
 * Output per fid: `fid N`, then sorted `class/devcount/domain/key/length` lines, then a blank line.
 */
import { MogileFSAdmin } from '../personalities/mogilefs/client/admin.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = '--trackers=host --fromfid=123 --count=5000'

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['fromfid=i', 'count=i'])
  if (!c || !c.trackers.length) return printUsage('moglistfids', USAGE)
  const admin = new MogileFSAdmin({ trackers: c.trackers })
  let from = Number(c.values.fromfid ?? 0) || 0
  let count = Number(c.values.count ?? 0) || 100
  try {
    while (count > 0) {
      const chunk = await admin.listFids(from, count)
      const fids = Object.keys(chunk).map(Number).sort((a, b) => a - b)
      if (!fids.length) break
      from = fids[fids.length - 1]
      count -= fids.length
      let out = ''
      for (const fid of fids) {
        const r = chunk[String(fid)]
        const row: Record<string, string> = { key: r.key, length: r.length, class: r.class, domain: r.domain, devcount: r.devcount }
        out += `fid ${fid}\n`
        for (const k of Object.keys(row).sort()) out += `${k} ${row[k] ?? ''}\n`
        out += '\n'
      }
      process.stdout.write(out)
    }
    return 0
  } catch (e) {
    process.stderr.write(`Error listing fids: ${e instanceof MogileError ? e.errstr : (e as Error).message}\n`)
    return 255
  } finally {
    admin.close()
  }
}
