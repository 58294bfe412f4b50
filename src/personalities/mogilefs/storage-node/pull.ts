/**
 * Destination-pull replication (a tandemfs extension of mogstored's PUT).
 *
 * The tracker sends `PUT <dst path>` with `X-Tandem-Copy-From: <source fid URL>`
 * and an empty body; this node GETs the source itself and stores the body at
 * the PUT's path through its blob store exactly like a normal PUT (temp file +
 * rename, size checked against the source's Content-Length, nothing visible on
 * failure). The answer carries `X-Tandem-Copied: <bytes>` and, when
 * `X-Tandem-Digest: md5|sha1` was asked for, `X-Tandem-Digest-Value: <hex>`.
 * So replicated bytes no longer pass through the tracker. Called by http.ts's
 * PUT handler only when the header is present; real MogileFS never sends it.
 */
import http from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { LocalBlobStore } from '../../../engine/blob/local-blob-store.js'
import { ENGINE_ERRORS as E, isEngineError } from '../../../engine/errors.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.mogstored.pull')

/** Request header naming the source URL of a pull PUT. */
export const COPY_FROM_HEADER = 'x-tandem-copy-from'
/** Request header asking for a digest of the pulled body (`md5` or `sha1`). */
export const DIGEST_HEADER = 'x-tandem-digest'

/** Why keep-alive + noDelay: a replicator pulls many small files from the same few nodes; Nagle + delayed ACK would add ~40 ms per request. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, noDelay: true } as http.AgentOptions)

/**
 * Why 60 s of source inactivity: the same bound the tracker puts on a
 * replication copy; a source that stalls longer is treated as failed (502) so
 * the tracker retries elsewhere instead of pinning a temp file forever.
 */
const SOURCE_IDLE_MS = 60_000

/** A MogileFS device fid path: `/dev<N>/<digits>/.../<digits>.fid` (spec §2.2). */
const FID_PATH = /^\/dev\d+(?:\/\d+)*\/\d+\.fid$/

/** The validated source URL, or undefined when it is not `http:` or not a fid path (→ 400). */
export function parseCopySource(v: string): URL | undefined {
  let u: URL
  try {
    u = new URL(v)
  } catch {
    return undefined
  }
  if (u.protocol !== 'http:' || u.username || u.password || u.search || u.hash) return undefined
  return FID_PATH.test(u.pathname) ? u : undefined
}

/** Outcome of a pull: stored (size, digest when asked) or an HTTP status to answer with nothing stored. */
export type PullResult = { ok: true; size: number; digest?: Buffer } | { ok: false; status: number; msg: string }

/** GET the source's response head; rejects on network failure or timeout. */
function getSource(src: URL): Promise<{ res: IncomingMessage; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.request(src, { method: 'GET', agent }, (res) => resolve({ res, req }))
    req.setTimeout(SOURCE_IDLE_MS, () => req.destroy(new Error(`source idle for ${SOURCE_IDLE_MS} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/**
 * Pull `src` into `key` of `store`. Never throws: source problems (unreachable,
 * non-200, no Content-Length, short or broken body) give 502, store problems
 * 500; in every failure case the engine has removed its temp file.
 */
export async function pullInto(store: LocalBlobStore, key: string, src: URL, alg: 'md5' | 'sha1' | undefined): Promise<PullResult> {
  let got: { res: IncomingMessage; req: http.ClientRequest }
  try {
    got = await getSource(src)
  } catch (e) {
    return { ok: false, status: 502, msg: `source unreachable: ${(e as Error).message}` }
  }
  const { res, req } = got
  if (res.statusCode !== 200) {
    res.resume()
    return { ok: false, status: 502, msg: `source answered ${res.statusCode}` }
  }
  const size = Number(res.headers['content-length'])
  if (!Number.isSafeInteger(size) || size < 0) {
    req.destroy()
    return { ok: false, status: 502, msg: 'source sent no Content-Length' }
  }
  let sourceBroke = false
  res.on('error', () => (sourceBroke = true))
  res.on('aborted', () => (sourceBroke = true))
  try {
    const r = await store.put(key, res as AsyncIterable<Buffer>, { size, digest: alg })
    return { ok: true, size: r.size, digest: r.digest }
  } catch (e) {
    req.destroy()
    if (isEngineError(e, E.BAD_KEY)) return { ok: false, status: 400, msg: 'Invalid filename' }
    if (!isEngineError(e, E.NO_SPACE) && (sourceBroke || !res.complete || isEngineError(e, E.SIZE_MISMATCH) || !isEngineError(e))) {
      log.warn({ src: src.href, key, err: (e as Error).message }, 'pull: source failed; nothing stored')
      return { ok: false, status: 502, msg: `source failed: ${(e as Error).message}` }
    }
    log.error({ err: e, src: src.href, key }, 'pull: storing failed')
    return { ok: false, status: 500, msg: 'Error saving file' }
  }
}
