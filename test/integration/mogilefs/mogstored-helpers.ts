/**
 * Shared plumbing for the mogstored integration tests: start a real
 * `bin/mogstored` on free ports with a temp docroot, and talk raw HTTP/line
 * protocols over sockets (so requests are byte-exact, e.g. without Host).
 */
import { mkdirSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

export interface Mogstored {
  daemon: Daemon
  docroot: string
  httpPort: number
  mgmtPort: number
}

export async function startMogstored(tag: string, devs = [1]): Promise<Mogstored> {
  const dir = tmpDir(tag)
  const docroot = path.join(dir, 'docroot')
  for (const d of devs) mkdirSync(path.join(docroot, `dev${d}`), { recursive: true })
  const httpPort = await freePort()
  const mgmtPort = await freePort()
  const daemon = spawnDaemon('mogstored', 'mogstored', [`--httplisten=127.0.0.1:${httpPort}`, `--mgmtlisten=127.0.0.1:${mgmtPort}`, `--docroot=${docroot}`, `--pidfile=${path.join(dir, 'mogstored.pid')}`], dir)
  await waitForPort('127.0.0.1', httpPort)
  await waitForPort('127.0.0.1', mgmtPort)
  return { daemon, docroot, httpPort, mgmtPort }
}

export interface RawResponse {
  statusLine: string
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** Parse consecutive HTTP responses out of `buf` (HEAD responses: pass `noBody` per index). */
export function parseResponses(buf: Buffer, noBody: boolean[] = []): RawResponse[] {
  const out: RawResponse[] = []
  let off = 0
  while (off < buf.length) {
    const end = buf.indexOf('\r\n\r\n', off)
    if (end < 0) break
    const head = buf.subarray(off, end).toString('latin1').split('\r\n')
    const headers: Record<string, string> = {}
    for (const l of head.slice(1)) {
      const i = l.indexOf(':')
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
    }
    const len = noBody[out.length] ? 0 : Number(headers['content-length'] ?? 0)
    const body = buf.subarray(end + 4, end + 4 + len)
    out.push({ statusLine: head[0], status: Number(head[0].split(' ')[1]), headers, body })
    off = end + 4 + len
  }
  return out
}

/**
 * Send `data` on one connection and collect replies until `count` complete
 * responses arrived (or the server closed).
 */
export function rawHttp(port: number, data: Buffer | string, count = 1, noBody: boolean[] = []): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    const finish = () => {
      s.destroy()
      resolve(parseResponses(buf, noBody))
    }
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      const r = parseResponses(buf, noBody)
      if (r.length >= count && r[count - 1].body.length >= (noBody[count - 1] ? 0 : Number(r[count - 1].headers['content-length'] ?? 0))) finish()
    })
    s.on('end', finish)
    s.on('error', reject)
    s.write(data)
  })
}

/** Send lines on the mgmt port and read until `lines` reply lines arrived. */
export function mgmt(port: number, req: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let buf = ''
    s.on('data', (d) => {
      buf += d.toString('latin1')
      const got = buf.split('\n').filter(Boolean)
      if (buf.endsWith('\n') && got.length >= lines) {
        s.destroy()
        resolve(got.map((l) => l.replace(/\r$/, '')))
      }
    })
    s.on('error', reject)
    s.write(req)
  })
}
