/**
 * HTTP legs of the client: streaming PUT to a storage node (as
 * MogileFS::NewHTTPFile does, but streamed even when the size is unknown, by
 * chunked encoding, which Perlbal and our mogstored accept) and streaming GET.
 * Keep-alive agents so a tool or library user storing many files reuses
 * connections to the storage nodes.
 */
import { once } from 'node:events'
import http from 'node:http'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CLIENT_ERRORS as CE, MogileError } from './errors.js'

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/**
 * Why 60 s idle: a storage node busy flushing a large file may stall a while;
 * the original's 6 s for the PUT reply is too tight for multi-GiB bodies on
 * slow disks, and a dead node still fails within a minute.
 */
const IDLE_MS = 60_000

export interface PutResult {
  status: number
  bytes: number
}

/**
 * PUT `body` to `url`. With `size` the request carries Content-Length (and the
 * node rejects a short body); without it the body goes chunked. Resolves with
 * the status and bytes sent; rejects when the node cannot be reached or the
 * connection fails. `onProgress` gets the running byte count.
 */
export async function httpPut(url: string, body: AsyncIterable<Uint8Array> | Readable, size?: number, onProgress?: (n: number) => void, headers: Record<string, string> = {}): Promise<PutResult> {
  const u = new URL(url)
  const h: Record<string, string | number> = { ...headers }
  if (size !== undefined) h['Content-Length'] = size
  else h['Transfer-Encoding'] = 'chunked'
  const req = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method: 'PUT', headers: h, agent })
  req.setNoDelay(true)
  req.setTimeout(IDLE_MS, () => req.destroy(new MogileError(CE.TIMEOUT, `timeout talking to ${u.host}`)))
  const resP = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  let bytes = 0
  const counted = async function* () {
    for await (const c of body as AsyncIterable<Uint8Array>) {
      bytes += c.length
      onProgress?.(bytes)
      yield c
    }
  }
  const sent = pipeline(Readable.from(counted()), req)
  // The node may answer early (error) before we finished sending: take the first outcome.
  const res = await Promise.race([resP, sent.then(() => resP)])
  res.resume()
  await sent.catch(() => {})
  return { status: res.statusCode ?? 0, bytes }
}

/** HEAD/GET result without the body consumed yet. */
export interface GetResponse {
  status: number
  statusLine: string
  headers: http.IncomingHttpHeaders
  body: http.IncomingMessage
}

/** Start a GET (or HEAD); the caller consumes or destroys `body`. Rejects on connect failure. */
export function httpGet(url: string, method: 'GET' | 'HEAD' = 'GET'): Promise<GetResponse> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method, agent }, (res) => {
      resolve({ status: res.statusCode ?? 0, statusLine: `${res.statusCode} ${res.statusMessage ?? ''}`.trim(), headers: res.headers, body: res })
    })
    req.setTimeout(IDLE_MS, () => req.destroy(new MogileError(CE.TIMEOUT, `timeout talking to ${u.host}`)))
    req.once('error', reject)
    req.end()
  })
}

/** GET `url` into `out` (not ended). Returns bytes copied; throws MogileError(HTTP) on non-2xx. */
export async function httpGetTo(url: string, out: Writable, onProgress?: (n: number) => void): Promise<number> {
  const r = await httpGet(url)
  if (r.status < 200 || r.status > 299) {
    r.body.resume()
    throw new MogileError(CE.HTTP, r.statusLine)
  }
  let n = 0
  for await (const chunk of r.body as AsyncIterable<Buffer>) {
    n += chunk.length
    onProgress?.(n)
    if (!out.write(chunk)) await once(out, 'drain')
  }
  if (!r.body.complete) throw new MogileError(CE.HTTP, 'connection closed before the whole body arrived')
  return n
}

/** Close idle keep-alive sockets (end of a CLI run, so the process can exit). */
export function closeHttpAgent(): void {
  agent.destroy()
}
