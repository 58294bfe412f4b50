/**
 * mogstored's HTTP side as a fastify app builder (the CLI listens; tests may
 * inject). Behaves like Perlbal's web_server with PUT/DELETE enabled and
 * directory indexing off (spec §2.1, fixtures mogilefs/http_scratch.jsonl):
 *
 *  - GET/HEAD: 200 (206 with `Range:`, 416 when unsatisfiable), `Content-Type:
 *    text/plain`, `Last-Modified`, `Accept-Ranges: bytes`; missing → 404; a
 *    directory → 200 "Directory listing disabled"; `/../` → 403 "Bogus URL".
 *  - PUT: Content-Length, chunked, or neither (→ empty file); parents created;
 *    overwrite; `Content-MD5` match → `201 ` (empty reason), mismatch → 400 and
 *    nothing written; `..` → 400 "Invalid filename" (as Perlbal does for PUT).
 *  - DELETE: 204 / 404; MKCOL, MOVE, POST and anything else → 400.
 *  - tandemfs extensions: every response carries `X-Tandem-Mogstored: 1` (the
 *    tracker learns from it that this node understands them); a PUT with
 *    `X-Tandem-Copy-From` and an empty body pulls the file from another node
 *    (pull.ts) instead of receiving it.
 *
 * Requests need no Host header (MogileFS::Client and the tracker's replicator
 * send `PUT <uri> HTTP/1.0\r\nContent-length: N\r\n\r\n`), so the Node server is
 * created with `requireHostHeader: false`. Bodies stream straight into the
 * engine store (temp file + rename) and out of it; nothing is buffered whole.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import http from 'node:http'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { ENGINE_ERRORS as E, isEngineError } from '../../../engine/errors.js'
import { logger } from '../../../log.js'
import { DevStores, resolveUrlPath } from './dev-stores.js'
import { countBytes, countRequest, metrics } from '../../../server/process-metrics.js'
import { COPY_FROM_HEADER, DIGEST_HEADER, parseCopySource, pullInto } from './pull.js'
import type { ReadHandle } from '../../../engine/blob/blob-store.js'
import { canSendFile, flushedWrite, sendFileToSocket } from '../../../engine/io/sendfile.js'

const EMPTY = Buffer.alloc(0)

const log = logger('mogilefs.mogstored.http')

export interface MogstoredHttpOptions {
  stores: DevStores
  /** Max simultaneous connections (Perlbal `maxconns`); 0 = unlimited. */
  maxConns?: number
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: '',
  204: 'No Content',
  206: 'Partial Content',
  400: 'Bad request',
  403: 'Forbidden',
  404: 'Not Found',
  416: 'Request range not satisfiable',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
}

/** Response header advertising our mogstored (absent on Perlbal); read by the tracker's storage-http.ts. */
export const TANDEM_MOGSTORED_HEADER = 'X-Tandem-Mogstored'

/**
 * Why 10 s: while a pull runs the PUT's client hears nothing; an interim
 * `102 Processing` this often keeps its inactivity timeout (60 s in the
 * tracker) from firing on a large but progressing copy.
 */
const PULL_HEARTBEAT_MS = 10_000

/** Perlbal's `_simple_response`: `<h1>CODE - English</h1>\n` + optional message, text/html. */
function simple(res: ServerResponse, method: string, code: number, msg = ''): void {
  if (res.headersSent || res.destroyed) return
  const reason = REASONS[code] ?? http.STATUS_CODES[code] ?? ''
  res.sendDate = false
  if (code === 204 || code === 304) {
    res.writeHead(code, reason, { Server: 'Perlbal' })
    res.end()
    return
  }
  const body = `<h1>${code}${reason ? ` - ${reason}` : ''}</h1>\n${msg}`
  res.writeHead(code, reason, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(body), Server: 'Perlbal' })
  // One write for header + small body (Node coalesces when end() gets the body).
  res.end(method === 'HEAD' ? undefined : body)
}

function urlPath(req: IncomingMessage): string {
  const u = req.url ?? '/'
  const q = u.indexOf('?')
  return q < 0 ? u : u.slice(0, q)
}

/** Perlbal's Range rules: `bytes=a-b`, `bytes=a-`, `bytes=-n`; anything else is ignored (200). */
export function parseRange(h: string | undefined, size: number): { status: 200 } | { status: 416 } | { status: 206; start: number; end: number } {
  const m = h ? /^bytes=(\d*)-(\d*)$/.exec(h) : null
  if (!m || (m[1] === '' && m[2] === '')) return { status: 200 }
  const a = m[1] === '' ? undefined : Number(m[1])
  const b = m[2] === '' ? undefined : Number(m[2])
  if (a !== undefined && b !== undefined && a > b) return { status: 416 }
  if (a === undefined && b === 0) return { status: 416 }
  if (a !== undefined && size <= a) return { status: 416 }
  let start: number
  let end: number
  if (a === undefined) {
    start = Math.max(0, size - (b as number))
    end = size - 1
  } else {
    start = a
    end = b === undefined ? size - 1 : Math.min(b, size - 1)
  }
  return { status: 206, start, end }
}

/** Per connection: the request currently being served (for in-order pipelining). */
const inFlight = new WeakMap<Socket, Promise<void>>()

/** Build the app; the caller listens (CLI) or closes it (tests). */
export async function buildMogstoredHttp(o: MogstoredHttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    exposeHeadRoutes: false,
    // Why requestTimeout 0: a multi-GiB PUT over a slow link legitimately takes
    // longer than Node's 300 s default; idle sockets are still bounded by
    // keepAliveTimeout and headersTimeout.
    // Malformed URLs (`%zz`) and unparseable requests get Perlbal-style HTML
    // errors instead of fastify's JSON; the connection of a parse error is closed.
    frameworkErrors: (_err, request, reply) => {
      reply.hijack()
      request.raw.resume()
      simple(reply.raw, request.raw.method ?? 'GET', 400)
    },
    clientErrorHandler: (err, socket) => {
      const code = (err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
      if (socket.writable) {
        const body = `<h1>${code} - ${code === 431 ? 'Request Header Fields Too Large' : 'Bad request'}</h1>\n`
        socket.end(`HTTP/1.0 ${code} ${code === 431 ? 'Request Header Fields Too Large' : 'Bad request'}\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nServer: Perlbal\r\nConnection: close\r\n\r\n${body}`)
      } else socket.destroy()
    },
    serverFactory: (handler) => {
      const s = http.createServer({ requireHostHeader: false, requestTimeout: 0, noDelay: true }, (req, res) => {
        // Set before fastify runs: writeHead merges it into every answer, errors included.
        res.setHeader(TANDEM_MOGSTORED_HEADER, '1')
        handler(req, res)
      })
      s.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
        res.once('finish', () => {
          countRequest('mogstored', req.method ?? '', res.statusCode < 400)
          if (res.statusCode >= 400) return
          if (req.method === 'PUT') countBytes('mogstored', 'in', Number(req.headers['content-length'] ?? 0) || 0)
          // Headers given to writeHead are invisible to getHeader; read the length from the head that was sent.
          else if (req.method === 'GET') countBytes('mogstored', 'out', Number(/\r\ncontent-length: *(\d+)/i.exec((res as unknown as { _header?: string })._header ?? '')?.[1] ?? 0))
        }),
      )
      // Why 30 s: what Perlbal advertises (`Keep-Alive: timeout=30`); the tracker
      // keeps pooled connections to storage nodes between monitor rounds.
      s.keepAliveTimeout = 30_000
      if (o.maxConns) s.maxConnections = o.maxConns
      return s
    },
  })
  app.removeAllContentTypeParsers()
  // Leave every body unread: the PUT handler streams request.raw itself.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE'],
    url: '*',
    handler: async (request, reply) => {
      reply.hijack()
      const req = request.raw
      const res = reply.raw
      const method = req.method ?? 'GET'
      const run = async () => {
        try {
          if (method === 'PUT') await handlePut(o.stores, req, res)
          else if (method === 'DELETE') await handleDelete(o.stores, req, res)
          else await handleGet(o.stores, req, res, method)
        } catch (e) {
          log.error({ err: e, method, url: req.url }, 'request failed')
          if (!res.headersSent) simple(res, method, 500, 'Internal error')
          else res.destroy()
        }
      }
      // Node hands us pipelined requests at once; Perlbal serves a connection
      // strictly in order, so a GET pipelined behind a PUT sees the new file.
      const sock = req.socket
      const prev = inFlight.get(sock)
      const cur = prev ? prev.then(run) : run()
      inFlight.set(sock, cur)
      await cur
      if (inFlight.get(sock) === cur) inFlight.delete(sock)
    },
  })
  app.setNotFoundHandler((request, reply) => {
    // Methods Perlbal does not serve (MKCOL, MOVE, POST, ...) → 400.
    reply.hijack()
    request.raw.resume()
    simple(reply.raw, request.raw.method ?? 'GET', 400)
  })
  app.setErrorHandler((err, request, reply) => {
    log.warn({ err, url: request.raw.url }, 'http error')
    if (!reply.sent && !reply.raw.headersSent) {
      reply.hijack()
      simple(reply.raw, request.raw.method ?? 'GET', 400)
    }
  })
  await app.ready()
  return app
}

async function handleGet(stores: DevStores, req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
  const r = resolveUrlPath(urlPath(req))
  if (!r) return simple(res, method, 403, 'Bogus URL')
  const store = await stores.get(r.dev, false)
  if (!store) return simple(res, method, 404)
  if (r.key === '' || r.dirRequest) return dirOr404(stores, r.dev, r.key, res, method)
  if (method === 'GET' && !req.headers.range) {
    // Common case: one open+fstat instead of stat then open.
    const h = await store.openRead(r.key).catch((e) => {
      if (isEngineError(e, E.BAD_KEY)) return undefined
      throw e
    })
    if (!h) return dirOr404(stores, r.dev, r.key, res, method)
    res.writeHead(200, REASONS[200], {
      Server: 'Perlbal',
      'Last-Modified': new Date(h.mtimeMs).toUTCString(),
      'Accept-Ranges': 'bytes',
      'Content-Type': 'text/plain',
      'Content-Length': h.size,
    })
    if (sendInMemory(h, res)) return
    if (await sendZeroCopy(h, res, req.url)) return
    return sendBody(h.stream, res, req.url)
  }
  const meta = await store.stat(r.key).catch((e) => {
    if (isEngineError(e, E.BAD_KEY)) return undefined
    throw e
  })
  if (!meta) return dirOr404(stores, r.dev, r.key, res, method)
  const rng = parseRange(req.headers.range, meta.size)
  const lastMod = new Date(meta.mtimeMs).toUTCString()
  if (rng.status === 416) {
    res.writeHead(416, REASONS[416], {
      Server: 'Perlbal',
      'Last-Modified': lastMod,
      'Accept-Ranges': 'bytes',
      'Content-Range': meta.size ? `bytes */${meta.size}` : '*',
      'Content-Length': 0,
    })
    res.end()
    return
  }
  const headers: Record<string, string | number> = {
    Server: 'Perlbal',
    'Last-Modified': lastMod,
    'Accept-Ranges': 'bytes',
    'Content-Type': 'text/plain',
  }
  if (rng.status === 206) {
    headers['Content-Range'] = `bytes ${rng.start}-${rng.end}/${meta.size}`
    headers['Content-Length'] = rng.end - rng.start + 1
  } else headers['Content-Length'] = meta.size
  if (method === 'HEAD') {
    res.writeHead(rng.status, REASONS[rng.status], headers)
    res.end()
    return
  }
  const h = await store.openRead(r.key, rng.status === 206 ? { start: rng.start, end: rng.end + 1 } : undefined)
  if (!h) return simple(res, method, 404)
  // The file may have changed between stat and open: trust the open handle.
  if (rng.status !== 206) headers['Content-Length'] = h.size
  res.writeHead(rng.status, REASONS[rng.status], headers)
  if (sendInMemory(h, res)) return
  return sendBody(h.stream, res, req.url)
}

/**
 * A small body the blob store already holds in memory (a recent write, or a file read whole
 * with one read): ended with the headers in one write, without building a stream and a
 * pipeline for it. Measured on 4 KiB GETs: 453 → ~200 µs of mogstored CPU per request.
 * false = not in memory; the caller streams.
 */
function sendInMemory(h: ReadHandle, res: ServerResponse): boolean {
  if (!h.buffer || h.buffer.length !== h.end - h.start) return false
  res.end(h.buffer)
  return true
}

/**
 * Whole-file GET bodies above this size go out with sendfile(2) when the addon is
 * available, as Perlbal serves them. Why 64 KiB: below it the blob store already
 * holds the bytes in memory; above it, copying through user space is what bounds a
 * storage node that serves downloads and replication pulls.
 */
const ZERO_COPY_MIN = 64 * 1024
/** How long a zero-copy body may wait for a client that stopped reading (mogstored's own idle timeout). */
const ZERO_COPY_TIMEOUT_MS = 60_000

/**
 * Send `h` with sendfile after flushing the headers already set on `res`.
 * false = not possible here (no addon, small file, busy socket): nothing was sent
 * and the caller streams instead. A short send closes the connection, the only
 * honest signal once Content-Length went out.
 */
async function sendZeroCopy(h: ReadHandle, res: ServerResponse, url: string | undefined): Promise<boolean> {
  const sock = res.socket
  const n = h.end - h.start
  if (!sock || h.fd === undefined || n <= ZERO_COPY_MIN || !canSendFile(sock)) return false
  res.flushHeaders()
  let sent = 0
  try {
    // An empty write flushed = everything written before it (the headers) is in the kernel.
    if (await flushedWrite(sock, EMPTY)) sent = await sendFileToSocket(sock, h.fd, h.start, n, ZERO_COPY_TIMEOUT_MS)
  } catch (e) {
    sent = (e as { bytesSent?: number }).bytesSent ?? 0
    log.debug({ err: e, url }, 'zero-copy download aborted')
  } finally {
    h.stream.destroy()
  }
  if (sent === n) res.end()
  else sock.destroy()
  return true
}


async function sendBody(stream: Readable, res: ServerResponse, url: string | undefined): Promise<void> {
  try {
    await pipeline(stream, res)
  } catch (e) {
    // Client went away mid-download: nothing to answer, just release the file.
    stream.destroy()
    log.debug({ err: e, url }, 'download aborted')
  }
}

async function dirOr404(stores: DevStores, dev: string, key: string, res: ServerResponse, method: string): Promise<void> {
  const st = await stat(path.join(stores.dir(dev), ...key.split('/').filter(Boolean))).catch(() => undefined)
  if (st?.isDirectory()) return simple(res, method, 200, 'Directory listing disabled')
  return simple(res, method, 404)
}

/** Perlbal accepts only `[\w\-.]+` path components for PUT and DELETE. */
const SAFE_PATH = /^(?:\/[\w\-.]+)+$/

async function handlePut(stores: DevStores, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const p = urlPath(req).replace(/\/{2,}/g, '/')
  const r = resolveUrlPath(p)
  if (!r || p.includes('..') || !SAFE_PATH.test(p) || r.key === '') {
    req.resume()
    return simple(res, 'PUT', 400, 'Invalid filename')
  }
  const cl = req.headers['content-length']
  const chunked = /chunked/i.test(String(req.headers['transfer-encoding'] ?? ''))
  const size = chunked ? undefined : cl === undefined ? 0 : Number(cl)
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    req.resume()
    return simple(res, 'PUT', 400, `Content-length of ${cl} is invalid.`)
  }
  const copyFrom = req.headers[COPY_FROM_HEADER]
  if (copyFrom !== undefined) return handlePull(stores, r.dev, r.key, String(copyFrom), size, req, res)
  const store = await stores.get(r.dev, true)
  if (!store) return simple(res, 'PUT', 404)
  const md5Header = req.headers['content-md5']
  const md5 = typeof md5Header === 'string' ? createHash('md5') : undefined
  const expect = md5 ? Buffer.from(String(md5Header).trim(), 'base64') : undefined
  async function* body(): AsyncGenerator<Buffer> {
    if (size === 0) return
    for await (const chunk of req as AsyncIterable<Buffer>) {
      md5?.update(chunk)
      yield chunk
    }
  }
  try {
    await store.put(r.key, body(), { size, digest: md5 ? 'md5' : undefined, expectDigest: expect })
  } catch (e) {
    if (isEngineError(e, E.CHECKSUM_MISMATCH) && md5) {
      const actual = md5.digest('base64').replace(/=+$/, '')
      const want = String(md5Header).replace(/=+\s*$/, '')
      return simple(res, 'PUT', 400, `Content-MD5 mismatch, expected: ${want} actual: ${actual}`)
    }
    if (req.destroyed || req.readableAborted || isEngineError(e, E.SIZE_MISMATCH)) {
      // The client died mid-body: the engine already removed the temp file.
      log.warn({ url: req.url, err: (e as Error).message }, 'PUT aborted; nothing stored')
      res.destroy()
      return
    }
    // Drain what the client still sends so a keep-alive connection stays usable.
    req.resume()
    if (isEngineError(e, E.BAD_KEY)) return simple(res, 'PUT', 400, 'Invalid filename')
    log.error({ err: e, url: req.url }, 'PUT failed')
    return simple(res, 'PUT', 500, 'Error saving file')
  }
  if (md5) return simple(res, 'PUT', 201)
  return simple(res, 'PUT', 200)
}

/** PUT with `X-Tandem-Copy-From`: validate, pull (pull.ts), answer 201 + X-Tandem-Copied / X-Tandem-Digest-Value. */
async function handlePull(stores: DevStores, dev: string, key: string, from: string, bodySize: number | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume()
  const src = parseCopySource(from)
  const algHeader = req.headers[DIGEST_HEADER]
  const alg = algHeader === undefined ? undefined : String(algHeader).trim().toLowerCase()
  if (bodySize !== 0) return simple(res, 'PUT', 400, 'X-Tandem-Copy-From needs an empty body')
  if (!src) return simple(res, 'PUT', 400, 'Invalid X-Tandem-Copy-From')
  if (alg !== undefined && alg !== 'md5' && alg !== 'sha1') return simple(res, 'PUT', 400, 'Invalid X-Tandem-Digest')
  const store = await stores.get(dev, true)
  if (!store) return simple(res, 'PUT', 404)
  const http11 = req.httpVersionMajor === 1 && req.httpVersionMinor >= 1
  const beat = http11 ? setInterval(() => !res.headersSent && !res.destroyed && res.writeProcessing(), PULL_HEARTBEAT_MS) : undefined
  let r: Awaited<ReturnType<typeof pullInto>>
  try {
    r = await pullInto(store, key, src, alg)
  } finally {
    clearInterval(beat)
  }
  metrics.inc('tandem_mogstored_pulls_total', 'Pull PUTs (X-Tandem-Copy-From) by outcome', { ok: r.ok ? 'true' : 'false' })
  if (!r.ok) return simple(res, 'PUT', r.status, r.msg)
  countBytes('mogstored', 'in', r.size)
  res.setHeader('X-Tandem-Copied', String(r.size))
  if (r.digest) res.setHeader('X-Tandem-Digest-Value', r.digest.toString('hex'))
  return simple(res, 'PUT', 201)
}

async function handleDelete(stores: DevStores, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume()
  const p = urlPath(req).replace(/\/{2,}/g, '/')
  const r = resolveUrlPath(p)
  if (!r || p.includes('..') || !SAFE_PATH.test(p) || r.key === '') return simple(res, 'DELETE', 400, 'Invalid filename')
  const store = await stores.get(r.dev, false)
  if (!store) return simple(res, 'DELETE', 404)
  try {
    return simple(res, 'DELETE', (await store.delete(r.key)) ? 204 : 404)
  } catch (e) {
    if (isEngineError(e, E.BAD_KEY)) return simple(res, 'DELETE', 400, 'Invalid filename')
    return simple(res, 'DELETE', 400, (e as Error).message)
  }
}
