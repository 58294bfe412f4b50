/**
 * `mogfiledebug` (MogileFS-Utils 2.30): everything the tracker knows about a
 * fid (file row, queues, devices) and, by default, a GET + MD5 of every copy.
 *   mogfiledebug --trackers=host --domain=foo --key='/hello.jpg' [--paths=print|stat|fetch]
 *   mogfiledebug --trackers=host --fid=123456
 */
import { createHash } from 'node:crypto'
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { closeHttpAgent, httpGet } from '../personalities/mogilefs/client/http-transfer.js'
import { sprintfS } from '../personalities/mogilefs/client/format.js'
import { printUsage, utilsOptions } from '../personalities/mogilefs/client/tool-options.js'

const USAGE = `--trackers=host --paths=action --domain=foo --key='/hello.jpg'
If FID is known, but domain/key are not known:
--trackers=host --fid=123456
--paths=action, where action is 'print', 'stat', or 'fetch' (default)`

interface PathResult {
  path: string
  res: string
  mtime?: string
  length?: number
  hash?: string
}

export async function main(argv: string[]): Promise<number> {
  const c = utilsOptions(argv, ['key=s', 'fid=i', 'paths=s'])
  if (!c) return printUsage('mogfiledebug', USAGE)
  const mode = (c.values.paths as string | undefined) || 'fetch'
  if (!/^(print|stat|fetch)$/.test(mode)) {
    process.stderr.write(`mogfiledebug ${USAGE}\n`)
    return 1
  }
  const fid = c.values.fid ? Number(c.values.fid) : undefined
  if (!c.trackers.length || (fid === undefined && (c.values.key === undefined || !c.domain))) return printUsage('mogfiledebug', USAGE)
  const client = new MogileFSClient({ trackers: c.trackers, domain: c.domain ?? 'mogfiledebug-unset' })
  let d: Record<string, string>
  try {
    d = await client.fileDebug(fid !== undefined ? { fid } : { key: c.values.key as string })
  } catch (e) {
    process.stderr.write(`Error fetching fid info: ${e instanceof MogileError ? e.errstr : (e as Error).message}\n`)
    client.close()
    return 255
  }
  client.close()
  const parts: Record<string, Record<string, string>> = {}
  const pathKeys = Object.keys(d).filter((k) => k.startsWith('devpath_'))
  for (const [k, v] of Object.entries(d)) {
    if (k.startsWith('devpath_')) continue
    const m = /^(\w+?)_(.*)$/.exec(k)
    if (m) (parts[m[1]] ??= {})[m[2]] = v
  }
  let out = ''
  const p = (s: string) => (out += s)
  if (!pathKeys.length) p('No valid-ish paths found\n')
  else if (mode === 'print') {
    p('Paths...\n')
    for (const k of pathKeys) p(` - ${d[k]}\n`)
  } else {
    p(mode === 'stat' ? 'Checking status of paths...\n' : 'Fetching and summing paths...\n')
    const results: PathResult[] = []
    for (const k of pathKeys) results.push(await probe(d[k], mode === 'fetch'))
    const len = parts.fid?.length !== undefined ? Number(parts.fid.length) : undefined
    if (len === undefined) p('No length, cannot verify content length')
    let first: string | undefined
    for (const r of results) {
      p(`\nResults for path: ${r.path}\n`)
      if (/404/.test(r.res)) {
        p(` - ERROR: File copy is missing: ${r.res}\n`)
        continue
      }
      if (mode === 'fetch') {
        first ??= r.hash
        if (first !== r.hash) p(' - ERROR: Hash does not match first path!\n')
      }
      if (len !== undefined && r.length !== undefined && len !== r.length) p(' - ERROR: Length does not match file row!\n')
      if (mode === 'fetch') p(` - MD5 Hash: ${r.hash}\n`)
      if (r.length !== undefined) p(` - Length: ${r.length}\n`)
      if (r.mtime !== undefined) p(` - Last-Modified: ${r.mtime}\n`)
      p(` - HTTP result: ${r.res}\n`)
    }
  }
  p('\nTempfile and/or queue rows...\n')
  let found = 0
  for (const type of ['tempfile', 'replqueue', 'delqueue', 'rebqueue', 'fsckqueue']) {
    const part = parts[type]
    if (!part) continue
    found++
    p(`- ${sprintfS(type, 12)}\n`)
    for (const [k, v] of Object.entries(part)) p(`  ${sprintfS(k, 20)}: ${sprintfS(v, 20)}\n`)
  }
  if (!found) p('none.\n')
  if (parts.fid) {
    p('\n- File Row:\n')
    for (const k of Object.keys(parts.fid).sort()) p(`  ${sprintfS(k, 8)}: ${sprintfS(parts.fid[k], 20)}\n`)
  } else {
    p('- ERROR: No file row was found!\nFile may have been deleted or never closed.\nSee above for any matching rows from tempfile or delqueue.\n')
  }
  if (d.devids) p(`\n- Raw devids: ${d.devids}\n`)
  if (d.checksum) p(`\n- Stored checksum: ${d.checksum}\n`)
  process.stdout.write(out)
  closeHttpAgent()
  return 0
}

/** GET (hashing) or HEAD one copy; transport failures become a 500 status like LWP reports. */
async function probe(url: string, fetch: boolean): Promise<PathResult> {
  try {
    const r = await httpGet(url, fetch ? 'GET' : 'HEAD')
    const res: PathResult = { path: url, res: r.statusLine, mtime: r.headers['last-modified'] }
    if (fetch) {
      const h = createHash('md5')
      let n = 0
      for await (const chunk of r.body as AsyncIterable<Buffer>) {
        h.update(chunk)
        n += chunk.length
      }
      res.hash = h.digest('hex')
      res.length = n
    } else {
      r.body.resume()
      if (r.headers['content-length'] !== undefined) res.length = Number(r.headers['content-length'])
    }
    return res
  } catch (e) {
    return { path: url, res: `500 ${(e as Error).message}`, hash: fetch ? createHash('md5').digest('hex') : undefined, length: fetch ? 0 : undefined }
  }
}
