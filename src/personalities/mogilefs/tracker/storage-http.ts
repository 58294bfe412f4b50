/**
 * The tracker's HTTP and mgmt-port client for storage nodes (mogstored, ours or
 * the reference Perlbal one): HEAD for size checks, GET/PUT for replication and
 * the monitor, DELETE for the delete job, `MD5 <uri>` on the mgmt port for
 * checksum verification. One keep-alive agent with TCP_NODELAY for everything
 * (why: the reference loses ~43 ms per small replication PUT to Nagle + delayed
 * ACK; keeping sockets warm also saves a handshake per request).
 *
 * Replication copies are pulled by the destination when it is our mogstored
 * (it answered with `X-Tandem-Mogstored: 1` before: the monitor polls every
 * host each round), so the bytes skip the tracker; otherwise, or when the node
 * refuses the pull, the tracker relays GET → PUT as the reference does.
 */
import http from 'node:http'
import net from 'node:net'
import { createHash } from 'node:crypto'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { metrics } from '../../../server/process-metrics.js'
import { leanRequest, parseHttpUrl } from './lean-http.js'

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16, noDelay: true } as http.AgentOptions)

/** Copies up to this size are read whole and PUT in one write (a small control-sized body, not file streaming). */
const SMALL_COPY = 64 * 1024

export interface HttpResult {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** Thrown when a node cannot be reached or does not answer within the timeout. */
export class NodeUnreachable extends Error {
  constructor(url: string, cause: string) {
    super(`${url}: ${cause}`)
    this.name = 'NodeUnreachable'
  }
}

/** Per node origin (`http://ip:port`): whether its last answer advertised our mogstored. Absent = never heard from. */
const tandemNodes = new Map<string, boolean>()

function originOf(url: string): string {
  const i = url.indexOf('/', url.indexOf('//') + 2)
  return i < 0 ? url : url.slice(0, i)
}

/** Remember whether the node behind `url` is ours, from any response's headers. */
export function noteNode(url: string, headers: http.IncomingHttpHeaders): void {
  const ours = headers['x-tandem-mogstored'] === '1'
  const o = originOf(url)
  if (tandemNodes.get(o) !== ours) tandemNodes.set(o, ours)
}

/** How a copy to `dstUrl` is made: `pull` when that node advertised our mogstored, else `relay` (unknown or Perlbal). */
export function copyMode(dstUrl: string): 'pull' | 'relay' {
  return tandemNodes.get(originOf(dstUrl)) === true ? 'pull' : 'relay'
}

/** Pull answers after which the tracker relays instead: the node does not do pulls (an older or real mogstored), or it could not reach the source. */
export function pullRefused(status: number): boolean {
  // 502: the destination could not fetch from the source. The tracker may still reach both (nodes
  // split from each other, not from us), so relaying is worth one try before the copy counts as failed.
  return status === 400 || status === 404 || status === 405 || status === 501 || status === 502
}

/** `TANDEM_NODE_HTTP=1`: small requests through node:http as well (a fallback switch; lean-http.ts is the default). */
const useLean = process.env.TANDEM_NODE_HTTP !== '1'

/** Small request/response (bodies up to a few KB: size checks, pulls, deletes, usage files, test writes). */
export function request(method: string, url: string, timeoutMs: number, body?: Buffer, headers: Record<string, string> = {}): Promise<HttpResult> {
  if (useLean && parseHttpUrl(url)) {
    return leanRequest(method, url, timeoutMs, body, headers).then(
      (r) => {
        const h = r.headers as http.IncomingHttpHeaders
        noteNode(url, h)
        return { status: r.status, headers: h, body: r.body }
      },
      (e: Error) => {
        throw new NodeUnreachable(url, e.message)
      },
    )
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : method === 'PUT' || method === 'MKCOL' ? { 'Content-Length': '0' } : {}) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        noteNode(url, res.headers)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) })
      })
      res.on('error', (e) => reject(new NodeUnreachable(url, e.message)))
    })
    // Timeout: a hung node must not pin a query (create_close/get_paths) forever.
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)))
    req.on('error', (e) => reject(new NodeUnreachable(url, e.message)))
    req.end(body)
  })
}

/** HEAD a URL: the Content-Length when 200, undefined when 404/other, NodeUnreachable on network failure. */
export async function headSize(url: string, timeoutMs: number): Promise<number | undefined> {
  const r = await request('HEAD', url, timeoutMs)
  if (r.status !== 200) return undefined
  const n = Number(r.headers['content-length'])
  return Number.isFinite(n) ? n : undefined
}

/** DELETE a URL: true when gone (2xx or 404). */
export async function httpDelete(url: string, timeoutMs: number): Promise<boolean> {
  const r = await request('DELETE', url, timeoutMs)
  return (r.status >= 200 && r.status < 300) || r.status === 404
}

/**
 * Copy the file at `srcUrl` to `dstUrl` (replication), with its digest when
 * `alg` is given. Resolves with the byte count (and digest); the caller checks
 * both against the file row. Pulls when the destination is ours (see copyMode),
 * relays otherwise or when the pull is refused.
 */
export async function copy(srcUrl: string, dstUrl: string, timeoutMs: number, alg?: 'md5' | 'sha1'): Promise<{ size: number; digest?: Buffer }> {
  if (copyMode(dstUrl) === 'pull') {
    const r = await pull(srcUrl, dstUrl, timeoutMs, alg)
    if (r) {
      metrics.inc('tandem_mogilefs_replication_pulls_total', 'Replication copies pulled by the destination mogstored')
      return r
    }
  }
  metrics.inc('tandem_mogilefs_replication_relays_total', 'Replication copies relayed through the tracker (GET + PUT)')
  return relay(srcUrl, dstUrl, timeoutMs, alg)
}

/**
 * Ask the destination to fetch `srcUrl` itself (PUT with X-Tandem-Copy-From).
 * undefined = the node does not do pulls after all (refusal status, or a 2xx
 * without our answer headers): the caller relays, which overwrites whatever
 * the node made of the empty PUT. Other failures throw.
 */
async function pull(srcUrl: string, dstUrl: string, timeoutMs: number, alg?: 'md5' | 'sha1'): Promise<{ size: number; digest?: Buffer } | undefined> {
  // The timeout is one of inactivity: our node sends `102 Processing` every 10 s while a large pull runs.
  const r = await request('PUT', dstUrl, timeoutMs, undefined, { 'X-Tandem-Copy-From': srcUrl, ...(alg ? { 'X-Tandem-Digest': alg } : {}) })
  if (pullRefused(r.status)) return undefined
  if (r.status < 200 || r.status >= 300) throw new Error(`destination pull ${dstUrl} from ${srcUrl} answered ${r.status}: ${r.body.toString('latin1').replace(/<[^>]*>/g, '').trim()}`)
  const size = Number(r.headers['x-tandem-copied'])
  const hex = r.headers['x-tandem-digest-value']
  if (!Number.isSafeInteger(size) || (alg && typeof hex !== 'string')) return undefined
  return { size, digest: alg ? Buffer.from(hex as string, 'hex') : undefined }
}

/** Stream `srcUrl` into `dstUrl` through this process without buffering the file, digesting on the way. */
function relay(srcUrl: string, dstUrl: string, timeoutMs: number, alg?: 'md5' | 'sha1'): Promise<{ size: number; digest?: Buffer }> {
  return new Promise((resolve, reject) => {
    const get = http.request(srcUrl, { method: 'GET', agent }, (res) => {
      noteNode(srcUrl, res.headers)
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`source GET ${srcUrl} answered ${res.statusCode}`))
        return
      }
      const size = Number(res.headers['content-length'])
      if (!Number.isFinite(size)) {
        res.resume()
        reject(new Error(`source GET ${srcUrl} without Content-Length`))
        return
      }
      const hash = alg ? createHash(alg) : undefined
      const put = http.request(dstUrl, { method: 'PUT', agent, headers: { 'Content-Length': String(size) } }, (pres) => {
        noteNode(dstUrl, pres.headers)
        pres.resume()
        pres.on('end', () => {
          if (pres.statusCode && pres.statusCode >= 200 && pres.statusCode < 300) resolve({ size, digest: hash?.digest() })
          else reject(new Error(`destination PUT ${dstUrl} answered ${pres.statusCode}`))
        })
      })
      put.setTimeout(timeoutMs, () => put.destroy(new Error(`PUT timeout after ${timeoutMs} ms`)))
      put.on('error', (e) => reject(new NodeUnreachable(dstUrl, e.message)))
      if (size <= SMALL_COPY) {
        // Small file: collect it (bounded by SMALL_COPY) and send header + body in one write.
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', (e) => put.destroy(e))
        res.on('end', () => {
          const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
          if (body.length !== size) return put.destroy(new Error(`source GET ${srcUrl} sent ${body.length} of ${size} bytes`))
          hash?.update(body)
          put.end(body)
        })
        return
      }
      if (!hash) {
        pipeline(res as Readable, put).catch((e) => reject(e))
        return
      }
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk)
          cb(null, chunk)
        },
      })
      pipeline(res as Readable, tap, put).catch((e) => reject(e))
    })
    get.setTimeout(timeoutMs, () => get.destroy(new Error(`GET timeout after ${timeoutMs} ms`)))
    get.on('error', (e) => reject(new NodeUnreachable(srcUrl, e.message)))
    get.end()
  })
}

/** Digest a stored file by streaming it over HTTP (fallback when the mgmt port fails). */
export function httpDigest(url: string, alg: 'md5' | 'sha1', timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        resolve(undefined)
        return
      }
      const h = createHash(alg)
      res.on('data', (c: Buffer) => h.update(c))
      res.on('end', () => resolve(h.digest()))
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')))
    req.on('error', (e) => reject(new NodeUnreachable(url, e.message)))
    req.end()
  })
}

/**
 * Ask the mgmt port (`MD5 <uri>` / `SHA-1 <uri>`) for a digest. undefined when
 * the node reports -1 (missing) or answers something unexpected.
 */
export function mgmtDigest(ip: string, port: number, uri: string, algName: 'MD5' | 'SHA-1', timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: ip, port, noDelay: true })
    let buf = ''
    // Why a long timeout is fine here: digesting a large file takes time on the node.
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('mgmt timeout')))
    sock.on('connect', () => sock.write(`${algName} ${uri}\r\n`))
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      const line = buf.slice(0, nl).trim()
      sock.end()
      const m = new RegExp(`^\\S+ ${algName.replace('-', '\\-')}=([0-9a-fA-F]+)$`).exec(line)
      resolve(m ? Buffer.from(m[1], 'hex') : undefined)
    })
    sock.on('error', (e) => reject(new NodeUnreachable(`${ip}:${port}`, e.message)))
    sock.on('close', () => resolve(undefined))
  })
}
