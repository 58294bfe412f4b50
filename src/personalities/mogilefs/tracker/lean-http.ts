/**
 * A small HTTP/1.1 keep-alive client for the tracker's short exchanges with
 * storage nodes: HEAD size checks on create_close, pull requests, DELETEs,
 * usage-file GETs and test writes (storage-http.ts `request`). Bodies both ways
 * are small and read whole; file streaming (the relay copy) stays on node:http.
 *
 * Why not node:http: profiling the tracker under small stores put about a
 * quarter of its CPU in node:http's client (ClientRequest, agent, parser
 * objects per request). This sends one write per request on a pooled socket
 * and parses the response head with a few string operations.
 *
 * What it understands: HTTP/1.0 and 1.1 responses, interim 1xx (skipped: our
 * mogstored sends `102 Processing` during long pulls), Content-Length,
 * chunked, or a body up to the close; keep-alive per the response's version
 * and Connection header. Anything else (a head over 64 KiB, a body over
 * MAX_BODY, bytes after the response) is an error and the socket is dropped.
 * Absent: only `http:` URLs are taken; the caller uses node:http otherwise.
 */
import net from 'node:net'

const MAX_HEAD = 64 * 1024
/** Largest response body read into memory (error pages, usage files and pull replies are far smaller). */
const MAX_BODY = 16 * 1024 * 1024
/** Idle sockets kept per node. */
const MAX_IDLE = 16

export interface LeanResponse {
  status: number
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>
  body: Buffer
}

const idle = new Map<string, net.Socket[]>()

/** `http://host:port/path` → parts, or undefined for anything this client does not take. */
export function parseHttpUrl(url: string): { host: string; port: number; path: string; origin: string } | undefined {
  // No whitespace or control bytes anywhere: they would split the request line.
  const m = /^http:\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\x00-\x20\x7f]+)(?::(\d{1,5}))?([/?][^#\x00-\x20\x7f]*)?$/.exec(url)
  if (!m) return undefined
  const port = m[2] ? Number(m[2]) : 80
  if (port < 1 || port > 65535) return undefined
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1]
  return { host, port, path: m[3] && m[3].startsWith('/') ? m[3] : `/${m[3] ?? ''}`, origin: `${host}:${port}` }
}

function takeIdle(origin: string): net.Socket | undefined {
  const list = idle.get(origin)
  while (list?.length) {
    const s = list.pop()!
    if (!s.destroyed && s.readyState === 'open') return s
  }
  return undefined
}

function putIdle(origin: string, s: net.Socket): void {
  let list = idle.get(origin)
  if (!list) idle.set(origin, (list = []))
  if (list.length >= MAX_IDLE) return void s.destroy()
  s.removeAllListeners('data')
  s.removeAllListeners('timeout')
  s.removeAllListeners('error')
  s.removeAllListeners('close')
  s.removeAllListeners('end')
  s.setTimeout(0)
  // An idle socket the node closes (or that errors) leaves the pool; it must not keep the process up.
  const drop = () => {
    const l = idle.get(origin)
    const i = l?.indexOf(s) ?? -1
    if (i >= 0) l!.splice(i, 1)
    s.destroy()
  }
  s.on('error', drop)
  s.on('close', drop)
  s.on('end', drop)
  s.on('data', drop) // nothing may arrive unasked
  s.unref()
  list.push(s)
}

/** Drop every pooled socket (tests, shutdown). */
export function closeIdle(): void {
  for (const list of idle.values()) for (const s of list.splice(0)) s.destroy()
}

/**
 * One request. Rejects with the socket's error, a timeout (no byte for `timeoutMs`), or a protocol
 * error. A pooled socket that the node closed meanwhile is retried once on a new connection when
 * it failed before any byte of the answer arrived.
 */
export async function leanRequest(method: string, url: string, timeoutMs: number, body?: Buffer, headers: Record<string, string> = {}): Promise<LeanResponse> {
  const u = parseHttpUrl(url)
  if (!u) throw new Error(`lean-http takes http://host:port/path URLs only: ${url}`)
  let head = `${method} ${u.path} HTTP/1.1\r\nHost: ${u.port === 80 ? u.host : `${u.host}:${u.port}`}\r\nConnection: keep-alive\r\n`
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new Error(`header ${k} holds a line break`)
    head += `${k}: ${v}\r\n`
  }
  if (body || method === 'PUT' || method === 'POST' || method === 'MKCOL') head += `Content-Length: ${body?.length ?? 0}\r\n`
  const wire = body?.length ? Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]) : Buffer.from(head + '\r\n', 'latin1')
  const pooled = takeIdle(u.origin)
  if (pooled) {
    try {
      return await exchange(pooled, u.origin, method, wire, timeoutMs)
    } catch (e) {
      if (!(e as { beforeAnswer?: boolean }).beforeAnswer) throw e
      // The node closed the kept-alive socket as we reused it: one fresh try.
    }
  }
  const s = net.connect({ host: u.host, port: u.port, noDelay: true })
  return exchange(s, u.origin, method, wire, timeoutMs)
}

function exchange(s: net.Socket, origin: string, method: string, wire: Buffer, timeoutMs: number): Promise<LeanResponse> {
  return new Promise((resolve, reject) => {
    s.ref()
    s.removeAllListeners('data')
    s.removeAllListeners('error')
    s.removeAllListeners('close')
    s.removeAllListeners('end')
    let got = false
    let buf: Buffer = Buffer.alloc(0)
    let res: { status: number; headers: Record<string, string>; version: number } | undefined
    let mode: 'none' | 'length' | 'chunked' | 'close' = 'none'
    let need = 0
    const chunks: Buffer[] = []
    let bodyLen = 0
    let settled = false
    const fail = (e: Error, beforeAnswer = false) => {
      if (settled) return
      settled = true
      s.destroy()
      reject(Object.assign(e, { beforeAnswer: beforeAnswer && !got }))
    }
    const done = () => {
      if (settled) return
      settled = true
      const r = res!
      const conn = (r.headers.connection ?? '').toLowerCase()
      const keep = mode !== 'close' && buf.length === 0 && (r.version === 1 ? !conn.includes('close') : conn.includes('keep-alive'))
      if (keep) putIdle(origin, s)
      else s.destroy()
      resolve({ status: r.status, headers: r.headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) })
    }
    const addBody = (b: Buffer) => {
      bodyLen += b.length
      if (bodyLen > MAX_BODY) throw new Error(`response body over ${MAX_BODY} bytes`)
      chunks.push(b)
    }
    /** Consume what `buf` holds; returns when it needs more bytes or the response is complete. */
    const step = () => {
      for (;;) {
        if (!res) {
          const end = buf.indexOf('\r\n\r\n')
          if (end < 0) {
            if (buf.length > MAX_HEAD) throw new Error('response head too large')
            return
          }
          const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
          buf = buf.subarray(end + 4)
          const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0])
          if (!m) throw new Error(`bad status line: ${lines[0].slice(0, 80)}`)
          const status = Number(m[2])
          if (status >= 100 && status < 200) continue // interim (100 Continue, 102 Processing)
          const headers: Record<string, string> = {}
          for (let i = 1; i < lines.length; i++) {
            const c = lines[i].indexOf(':')
            if (c <= 0) continue
            const k = lines[i].slice(0, c).trim().toLowerCase()
            const v = lines[i].slice(c + 1).trim()
            headers[k] = k in headers ? `${headers[k]}, ${v}` : v
          }
          res = { status, headers, version: Number(m[1]) }
          if (method === 'HEAD' || status === 204 || status === 304) mode = 'none'
          else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) (mode = 'chunked'), (need = -1)
          else if (headers['content-length'] !== undefined) {
            need = Number(headers['content-length'])
            if (!Number.isSafeInteger(need) || need < 0) throw new Error(`bad content-length ${headers['content-length']}`)
            if (need > MAX_BODY) throw new Error(`response body over ${MAX_BODY} bytes`)
            mode = 'length'
          } else mode = 'close'
          if (mode === 'none') {
            if (buf.length) throw new Error('bytes after a bodiless response')
            return done()
          }
        }
        if (mode === 'length') {
          const n = Math.min(need, buf.length)
          if (n) addBody(buf.subarray(0, n))
          buf = buf.subarray(n)
          need -= n
          if (need > 0) return
          if (buf.length) throw new Error('bytes after the response')
          return done()
        }
        if (mode === 'close') {
          if (buf.length) addBody(buf)
          buf = Buffer.alloc(0)
          return // ends at 'end'
        }
        // chunked: need >= 0 = bytes of chunk data (then CRLF); -1 = a size line; -2 = trailers.
        if (need === -2) {
          if (buf.length >= 2 && buf[0] === 13 && buf[1] === 10) buf = buf.subarray(2)
          else {
            const t = buf.indexOf('\r\n\r\n')
            if (t < 0) {
              if (buf.length > MAX_HEAD) throw new Error('chunked trailers too large')
              return
            }
            buf = buf.subarray(t + 4)
          }
          if (buf.length) throw new Error('bytes after the response')
          return done()
        }
        if (need === -1) {
          const eol = buf.indexOf('\r\n')
          if (eol < 0) {
            if (buf.length > 1024) throw new Error('bad chunk size line')
            return
          }
          const text = buf.subarray(0, eol).toString('latin1').split(';')[0].trim()
          const size = /^[0-9a-fA-F]{1,12}$/.test(text) ? Number.parseInt(text, 16) : NaN
          if (!Number.isSafeInteger(size)) throw new Error('bad chunk size')
          buf = buf.subarray(eol + 2)
          need = size === 0 ? -2 : size
          continue
        }
        if (buf.length < need + 2) return
        if (buf[need] !== 13 || buf[need + 1] !== 10) throw new Error('chunk not followed by CRLF')
        addBody(buf.subarray(0, need))
        buf = buf.subarray(need + 2)
        need = -1
      }
    }
    s.on('data', (b: Buffer) => {
      got = true
      buf = buf.length ? Buffer.concat([buf, b]) : b
      try {
        step()
      } catch (e) {
        fail(e as Error)
      }
    })
    s.on('end', () => {
      if (res && mode === 'close') return done()
      fail(new Error(got ? 'connection closed mid-response' : 'connection closed before an answer'), true)
    })
    s.on('error', (e) => fail(e, true))
    s.on('close', () => fail(new Error('connection closed'), true))
    // Why an inactivity timeout (not a deadline): long pulls are kept alive by 102 Processing.
    s.setTimeout(timeoutMs, () => fail(new Error(`timeout after ${timeoutMs} ms`)))
    s.write(wire)
  })
}
