/**
 * The `dev<N>/usage` files the tracker's monitor reads (spec §2.3): rewritten
 * every `intervalSec` seconds for every `dev<digits>` directory under the
 * docroot, as sorted `key: value` lines with KiB figures from statfs, like
 * `df -P -l -k` gives the original (total = used + available).
 */
import { readFileSync } from 'node:fs'
import { readdir, statfs } from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from '../../../engine/binlog/binlog.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.mogstored.usage')

/** `dev<digits>` directories under `docroot`, sorted by device id; empty when the docroot is unreadable. */
export async function listDevDirs(docroot: string): Promise<string[]> {
  try {
    const ents = await readdir(docroot, { withFileTypes: true })
    return ents
      .filter((e) => e.isDirectory() && /^dev\d+$/.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
  } catch {
    return []
  }
}

/** Mount source of the filesystem holding `dir` (df's "Filesystem" column), or 'unknown'. */
export function mountSource(dir: string): string {
  try {
    let best = ''
    let src = 'unknown'
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ')
      const sep = f.indexOf('-')
      if (sep < 0) continue
      const mp = f[4].replace(/\\040/g, ' ')
      if ((dir === mp || dir.startsWith(mp.endsWith('/') ? mp : mp + '/')) && mp.length >= best.length) {
        best = mp
        src = f[sep + 2]
      }
    }
    return src
  } catch {
    return 'unknown'
  }
}

/** The usage file text for one device directory (called by the writer loop and tests). */
export async function usageText(dir: string, device = mountSource(dir), now = Date.now()): Promise<string> {
  const s = await statfs(dir)
  const bs = Number(s.bsize)
  const used = Math.floor(((Number(s.blocks) - Number(s.bfree)) * bs) / 1024)
  const available = Math.floor((Number(s.bavail) * bs) / 1024)
  const total = used + available
  const use = total > 0 ? Math.ceil((used * 100) / total) : 0
  const fields: Record<string, string | number> = {
    available,
    device,
    disk: dir,
    time: Math.floor(now / 1000),
    total,
    use: `${use}%`,
    used,
  }
  return Object.keys(fields)
    .sort()
    .map((k) => `${k}: ${fields[k]}\n`)
    .join('')
}

/** Write every device's usage file once; per-device failures are logged and skipped. */
export async function writeUsageFiles(docroot: string): Promise<number> {
  let n = 0
  for (const dev of await listDevDirs(docroot)) {
    const dir = path.join(docroot, dev)
    try {
      // Temp + rename so the monitor never reads a half-written file.
      await writeFileAtomic(path.join(dir, 'usage'), await usageText(dir))
      n++
    } catch (e) {
      log.warn({ err: e, dir }, 'cannot write usage file')
    }
  }
  return n
}

/**
 * Start the periodic writer (mogstored CLI). The first round runs immediately
 * so a freshly started node is visible to the tracker within one monitor cycle.
 * Returns a stop function.
 */
export function startUsageWriter(docroot: string, intervalSec = 10): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const round = async () => {
    await writeUsageFiles(docroot).catch((e) => log.warn({ err: e }, 'usage round failed'))
    // Why 10 s: the original's cadence; the tracker stores figures at most every 15 s.
    if (!stopped) timer = setTimeout(round, intervalSec * 1000)
  }
  void round()
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}
