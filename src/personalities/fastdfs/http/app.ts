/**
 * HTTP downloads for a FastDFS storage (what nginx + fastdfs-nginx-module do),
 * as a fastify app builder; the storage daemon listens on `http.server_port`.
 *
 *   GET|HEAD /<group>/M00/HH/LL/<name>[?token=..&ts=..]
 *
 * Range (206/416), ETag and Last-Modified with 304s, Content-Type from the
 * extension, anti-steal tokens with the original keys. A file that is not on
 * this storage yet (sync lag) is fetched from a holder in the group — proxied
 * by default, or a 302 redirect — so a read right after an upload succeeds on
 * every storage. `..` and other path tricks get 400 and read nothing.
 */
import http from 'node:http'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { BlobMeta, ReadHandle } from '../../../engine/blob/blob-store.js'
import { logger } from '../../../log.js'
import { tryDecodeFileName } from '../file-id.js'
import { contentType } from './mime.js'
import { checkToken } from './token.js'

const log = logger('fastdfs.http')

/** What the HTTP front needs from the storage it runs in. */
export interface FdfsHttpSource {
  group: string
  /** Open a local file by remote name (`M00/..`); `undefined` when not on this storage. */
  open(remote: string, range?: { start: number; end?: number }): Promise<ReadHandle | undefined>
  stat(remote: string): Promise<BlobMeta | undefined>
  /** `http://host:port` of group members that may hold `remote`, most likely first (source storage first). */
  holders(remote: string): Promise<string[]>
}

export interface FdfsHttpOptions {
  source: FdfsHttpSource
  antiSteal?: { secret: string; ttlSec: number }
  /** What to do when the file is not local: proxy (default) or redirect. */
  missing?: 'proxy' | 'redirect'
}

/** Marks a request one storage forwarded to another, so holders never forward again (no loops). */
const FORWARDED = 'x-tandem-forwarded'
/** Why 10 s: a holder in the same group answers in ms; beyond this the client is better off retrying. */
const PROXY_TIMEOUT_MS = 10_000

function parseRange(h: string | undefined, size: number): { start: number; end: number } | 'invalid' | undefined {
  if (!h) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim())
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid'
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    start = Math.max(0, size - suffix)
    end = size
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
  }
  if (start >= size || end <= start) return 'invalid'
  return { start, end }
}

function etagOf(m: { size: number; mtimeMs: number }): string {
  return `"${m.size.toString(16)}-${Math.floor(m.mtimeMs / 1000).toString(16)}"`
}

export function buildFdfsHttpApp(o: FdfsHttpOptions): FastifyInstance {
  const app = Fastify({ logger: false, exposeHeadRoutes: false })
  const src = o.source

  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const rawPath = (req.raw.url ?? '/').split('?')[0]
      let path: string
      try {
        path = decodeURIComponent(rawPath)
      } catch {
        return reply.code(400).type('text/plain').send('bad request\n')
      }
      const parts = path.split('/').filter((p, i) => i > 0)
      if (path.includes('..') || path.includes('\\') || path.includes('\0') || path.includes('//') || parts.length < 5) {
        log.warn({ path: rawPath, ip: req.ip }, 'rejected HTTP path')
        return reply.code(400).type('text/plain').send('bad request\n')
      }
      const [group, ...rest] = parts
      const remote = rest.join('/')
      if (group !== src.group) return reply.code(404).type('text/plain').send('not found\n')
      if (!/^M[0-9A-F]{2}$/.test(rest[0]) || !tryDecodeFileName(remote)) return reply.code(400).type('text/plain').send('bad request\n')
      const fileId = `${group}/${remote}`
      if (o.antiSteal) {
        const q = req.query as Record<string, string | undefined>
        const v = checkToken(o.antiSteal.secret, fileId, q.token, q.ts, o.antiSteal.ttlSec)
        if (v !== 'ok') {
          log.info({ fileId, verdict: v, ip: req.ip }, 'anti-steal token rejected')
          return reply.code(403).type('text/plain').send(`forbidden: token ${v}\n`)
        }
      }
      const meta = await src.stat(remote)
      if (!meta) return missing(req, reply, remote, rawPath)
      const etag = etagOf(meta)
      const lastMod = new Date(Math.floor(meta.mtimeMs / 1000) * 1000)
      reply.header('ETag', etag).header('Last-Modified', lastMod.toUTCString()).header('Accept-Ranges', 'bytes').header('Content-Type', contentType(remote))
      const inm = req.headers['if-none-match']
      const ims = req.headers['if-modified-since']
      if ((inm && inm === etag) || (!inm && ims && Date.parse(ims) >= lastMod.getTime())) return reply.code(304).send()
      const range = parseRange(req.headers.range, meta.size)
      if (range === 'invalid') return reply.code(416).header('Content-Range', `bytes */${meta.size}`).send()
      if (req.method === 'HEAD') {
        reply.header('Content-Length', String(range ? range.end - range.start : meta.size))
        if (range) reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end - 1}/${meta.size}`)
        return reply.send()
      }
      const h = await src.open(remote, range)
      if (!h) return missing(req, reply, remote, rawPath)
      reply.header('Content-Length', String(h.end - h.start))
      if (range) reply.code(206).header('Content-Range', `bytes ${h.start}-${h.end - 1}/${h.size}`)
      // Bytes the store already holds in memory go out as one buffer: no stream, no pipeline.
      return reply.send(h.buffer && h.buffer.length === h.end - h.start ? h.buffer : h.stream)
    },
  })

  async function missing(req: FastifyRequest, reply: FastifyReply, remote: string, rawPath: string): Promise<FastifyReply> {
    if (req.headers[FORWARDED]) return reply.code(404).type('text/plain').send('not found\n')
    const holders = await src.holders(remote)
    if (!holders.length) return reply.code(404).type('text/plain').send('not found\n')
    const query = (req.raw.url ?? '').includes('?') ? (req.raw.url ?? '').slice((req.raw.url ?? '').indexOf('?')) : ''
    if (o.missing === 'redirect') return reply.code(302).header('Location', `${holders[0]}${rawPath}${query}`).send()
    for (const base of holders) {
      const res = await forward(`${base}${rawPath}${query}`, req).catch((e: Error) => {
        log.warn({ base, remote, err: e.message }, 'holder did not answer')
        return undefined
      })
      if (!res) continue
      if (res.statusCode === 404) {
        res.resume()
        continue
      }
      reply.code(res.statusCode ?? 502)
      for (const k of ['content-type', 'content-length', 'content-range', 'etag', 'last-modified', 'accept-ranges']) {
        const v = res.headers[k]
        if (v !== undefined) reply.header(k, v)
      }
      return reply.send(res)
    }
    return reply.code(404).type('text/plain').send('not found\n')
  }

  return app
}

function forward(url: string, req: FastifyRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { [FORWARDED]: '1' }
    if (req.headers.range) headers.range = String(req.headers.range)
    const r = http.request(url, { method: req.method, headers, timeout: PROXY_TIMEOUT_MS }, resolve)
    r.on('timeout', () => r.destroy(new Error('timeout')))
    r.on('error', reject)
    r.end()
  })
}
