/**
 * `mogfetch` (MogileFS-Utils 2.30): fetch a key to a file or stdout (`--file=-`).
 *   mogfetch --trackers=host --domain=foo --key='/hello.jpg' --file='./output'
 * Tries every path (get_paths noverify=1) until one works; if all fail, prints
 * "Got errors while trying to fetch:" + each status line on stderr, exit 1.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { closeHttpAgent, httpGetTo } from '../personalities/mogilefs/client/http-transfer.js'
import { progressBar } from '../personalities/mogilefs/client/progress.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = "--trackers=host --domain=foo --key='/hello.jpg' --file='./output'"

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['key=s', 'file=s'])
  if (!c) return printUsage('mogfetch', USAGE)
  const file = c.values.file as string | undefined
  const key = c.values.key as string | undefined
  if (!file || key === undefined || !c.domain || !c.trackers.length) return printUsage('mogfetch', USAGE)
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain })
  try {
    let paths: string[]
    try {
      paths = await client.getPaths(key, { noverify: true })
    } catch (e) {
      process.stderr.write(`Error fetching paths: ${e instanceof MogileError ? e.errstr : (e as Error).message}\n`)
      return 255
    }
    const errors: string[] = []
    for (const p of paths) {
      // Like the original, a file target is (re)opened per attempt, which truncates it.
      const out = file === '-' ? process.stdout : await openFile(file)
      if (!out) {
        process.stderr.write(`Could not open ${file}\n`)
        return 255
      }
      const bar = progressBar(undefined, key)
      try {
        await httpGetTo(p, out, bar.update)
        bar.done()
        if (out !== process.stdout) await closeStream(out as WriteStream)
        errors.length = 0
        break
      } catch (e) {
        bar.done()
        if (out !== process.stdout) await closeStream(out as WriteStream).catch(() => {})
        errors.push(e instanceof MogileError ? e.message : `500 ${(e as Error).message}`)
      }
    }
    if (errors.length) {
      for (const s of errors) process.stderr.write(`Got errors while trying to fetch:\n${s}\n`)
      return 1
    }
    return 0
  } finally {
    client.close()
    closeHttpAgent()
  }
}

/** Open `file` for writing (truncating); undefined when it cannot be opened. */
function openFile(file: string): Promise<WriteStream | undefined> {
  return new Promise((resolve) => {
    const s = createWriteStream(file)
    s.once('open', () => resolve(s))
    s.once('error', () => resolve(undefined))
  })
}

function closeStream(s: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject)
    s.end(() => resolve())
  })
}
