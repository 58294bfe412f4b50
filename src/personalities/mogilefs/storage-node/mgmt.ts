/**
 * mogstored's management / "sidechannel" line port (spec §2.4), used by the
 * tracker for checksums (`MD5 <uri>`), sizes and I/O utilisation (`watch`):
 *
 *   size <uri>            → `<uri> <bytes>` or `<uri> -1`
 *   MD5|SHA-1 <uri> [x]   → `<uri> MD5=<hex>` (`=-1` when missing)
 *   watch                 → `<devid>\t<util%>` lines then `.`, every second
 *   version               → starttime / uptime / version lines then `.`
 *   `..` in a uri         → `ERROR: uri invalid (contains ..)`
 *   anything else         → `ERROR: unknown command: <cmd>`
 */
import { createHash } from 'node:crypto'
import { createReadStream, readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Socket } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { SocketReader } from '../../../server/socket-reader.js'
import { TcpServer } from '../../../server/tcp-server.js'
import { logger } from '../../../log.js'
import { listDevDirs } from './usage.js'

const log = logger('mogilefs.mogstored.mgmt')

export const PERLBAL_VERSION = '1.80'
const MAX_LINE = 8192

export interface MgmtOptions {
  host: string
  port: number
  docroot: string
}

/** Build (not yet listening) the mgmt server; the CLI calls `listen()`. */
export function createMgmtServer(o: MgmtOptions): TcpServer {
  const started = Math.floor(Date.now() / 1000)
  const srv: TcpServer = new TcpServer({
    host: o.host,
    port: o.port,
    name: 'mogstored-mgmt',
    onConnection: async (sock) => {
      const rd = new SocketReader(sock)
      for (;;) {
        let line: string | undefined
        try {
          line = await rd.readLine(MAX_LINE)
        } catch {
          sock.end('ERROR: line too long\r\n')
          return
        }
        if (line === undefined) return
        const cmd = line.trim()
        if (!cmd) continue
        // `watch` streams until the peer leaves; it is not an in-flight request
        // that a graceful shutdown should wait for.
        if (/^watch$/i.test(cmd)) return watch(sock, o.docroot)
        srv.busy(sock, true)
        try {
          sock.write(await answer(o.docroot, cmd, started))
        } catch (e) {
          log.warn({ err: e, cmd }, 'mgmt command failed')
          sock.write(`ERROR: ${(e as Error).message}\r\n`)
        } finally {
          srv.busy(sock, false)
        }
      }
    },
  })
  return srv
}

/** One command's reply (without `watch`); exported for tests. */
export async function answer(docroot: string, cmd: string, started: number): Promise<string> {
  let m = /^size (\S+)$/.exec(cmd)
  if (m) {
    const uri = m[1]
    if (uri.includes('..')) return 'ERROR: uri invalid (contains ..)\r\n'
    const st = await stat(path.join(docroot, uri)).catch(() => undefined)
    return `${uri} ${st ? st.size : -1}\r\n`
  }
  m = /^(MD5|SHA-1) (\S+)(?: (\w+))?$/.exec(cmd)
  if (m) {
    const [, alg, uri] = m
    if (uri.includes('..')) return 'ERROR: uri invalid (contains ..)\r\n'
    const file = path.join(docroot, uri)
    const st = await stat(file).catch(() => undefined)
    if (!st?.isFile()) return `${uri} ${alg}=-1\r\n`
    const h = createHash(alg === 'MD5' ? 'md5' : 'sha1')
    try {
      await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), h)
    } catch {
      return `ERR read ${uri} at 0 failed\r\n`
    }
    return `${uri} ${alg}=${h.digest('hex')}\r\n`
  }
  if (/^version$/i.test(cmd)) {
    const now = Math.floor(Date.now() / 1000)
    return `starttime ${started}\r\nuptime ${now - started}\r\nversion ${PERLBAL_VERSION}\r\n.\r\n`
  }
  return `ERROR: unknown command: ${cmd.split(/\s+/)[0]}\r\n`
}

/** Map `dev<N>` → the /proc/diskstats device whose major:minor holds it. */
async function devNumbers(docroot: string): Promise<Map<number, string>> {
  const out = new Map<number, string>()
  for (const d of await listDevDirs(docroot)) {
    const st = await stat(path.join(docroot, d)).catch(() => undefined)
    if (st) out.set(Number(d.slice(3)), `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`)
  }
  return out
}

function ioTicks(): Map<string, number> {
  const m = new Map<string, number>()
  try {
    for (const l of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
      const f = l.trim().split(/\s+/)
      // Field 13 (index 12) = milliseconds spent doing I/O.
      if (f.length >= 13) m.set(`${f[0]}:${f[1]}`, Number(f[12]))
    }
  } catch {
    // No /proc/diskstats (containers, non-Linux): every device reports 0.
  }
  return m
}

/** Stream utilisation once a second until the peer goes away (the tracker's IOStatWatcher). */
async function watch(sock: Socket, docroot: string): Promise<void> {
  let prev = ioTicks()
  let prevAt = Date.now()
  while (!sock.destroyed && sock.writable) {
    // Why 1 s: the cadence of `iostat -dx 1` that the original pipes through.
    await new Promise((r) => setTimeout(r, 1000))
    const devs = await devNumbers(docroot)
    const now = ioTicks()
    const el = Math.max(1, Date.now() - prevAt)
    let out = ''
    for (const [id, mm] of [...devs].sort((a, b) => a[0] - b[0])) {
      const a = prev.get(mm)
      const b = now.get(mm)
      const util = a !== undefined && b !== undefined ? Math.min(100, ((b - a) * 100) / el) : 0
      out += `${id}\t${util.toFixed(2)}\n`
    }
    prev = now
    prevAt = Date.now()
    if (!sock.write(out + '.\n')) await new Promise((r) => sock.once('drain', r))
  }
}
