/**
 * The tracker's client-facing line protocol (spec §1.1): one request per line,
 * answered in order on the same connection (pipelining works), `callid`
 * echoed, `!`-commands answered multi-line and ended by `.`.
 *
 * Bytes on the wire are handled as latin1 "byte strings"; argument values are
 * then decoded as UTF-8 (keys, domain and class names are stored as text).
 * A value that is not valid UTF-8 is refused with `ERR bad_params` rather than
 * stored mangled. Replies are encoded back to UTF-8 bytes.
 */
import type { Socket } from 'node:net'
import { SocketReader } from '../../../server/socket-reader.js'
import type { TcpServer } from '../../../server/tcp-server.js'
import { decodeArgs, encodeArgs, encodeComponent, parseRequestLine } from '../protocol/args.js'
import type { Ctx } from './context.js'
import { COMMANDS } from './commands/index.js'
import { MogError } from './errors.js'
import { logger } from '../../../log.js'
import { countRequest } from '../../../server/process-metrics.js'

const log = logger('mogilefs.tracker')

/** Why 64 KiB: far above any legal request (keys ≤ 255 chars); bounds memory per connection. */
export const MAX_LINE = 64 * 1024
const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface Counters {
  started: number
  queries: number
  processing: number
}

function toText(bytes: string): string | undefined {
  if (!/[\x80-\xff]/.test(bytes)) return bytes
  try {
    return utf8.decode(Buffer.from(bytes, 'latin1'))
  } catch {
    return undefined
  }
}

function toBytes(s: string): string {
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s
}

/** Run one request line; returns the full reply (with \r\n). Never throws. */
export async function handleLine(line: string, ctx: Ctx, counters: Counters): Promise<string> {
  const { cmd, args: raw } = parseRequestLine(line)
  const rawArgs = decodeArgs(raw)
  const callid = rawArgs.callid
  const args: Record<string, string> = Object.create(null)
  let bad = false
  for (const [k, v] of Object.entries(rawArgs)) {
    const kt = toText(k)
    const vt = toText(v)
    if (kt === undefined || vt === undefined) bad = true
    else args[kt] = vt
  }
  const fail = (code: string, msg: string) => `ERR ${code} ${encodeComponent(toBytes(msg))}${callid !== undefined ? ' ' + encodeComponent(callid) : ''}\r\n`
  const handler = Object.prototype.hasOwnProperty.call(COMMANDS, cmd) ? COMMANDS[cmd] : undefined
  if (!handler) {
    // Malformed input is logged (bounded: the line itself is capped at MAX_LINE, the name here at 64).
    log.warn({ cmd: cmd.slice(0, 64) }, 'unknown command')
    return fail('unknown_command', 'Unknown server command')
  }
  if (bad) {
    log.warn({ cmd }, 'arguments are not valid UTF-8')
    return fail('bad_params', 'Arguments must be valid UTF-8')
  }
  counters.queries++
  counters.processing++
  try {
    const res = await handler(args, ctx)
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(res)) if (v !== undefined && v !== null) out[toBytes(k)] = toBytes(String(v))
    if (callid !== undefined) out.callid = callid
    countRequest('mogilefs-tracker', cmd, true)
    return `OK ${encodeArgs(out)}\r\n`
  } catch (e) {
    countRequest('mogilefs-tracker', cmd, false)
    if (e instanceof MogError) {
      // A refusal is a normal answer (unknown_key, no_devices, ...): debug, not warn.
      log.debug({ cmd, code: e.code }, 'command refused')
      return fail(e.code, e.message)
    }
    log.error({ err: e, cmd }, 'command failed')
    const dbErr = /ER_|SQLITE|Knex|ECONNREFUSED/.test(String((e as Error)?.message) + String((e as { code?: string })?.code))
    return dbErr ? fail('db', 'Database error') : fail('failure', 'Operation failed')
  } finally {
    counters.processing--
  }
}

/** Serve one client connection until it closes. */
export async function serveConnection(sock: Socket, ctx: Ctx, server: TcpServer, counters: Counters, bang: (cmd: string) => Promise<string>): Promise<void> {
  sock.setNoDelay(true)
  const reader = new SocketReader(sock)
  for (;;) {
    let line: string | undefined
    try {
      line = await reader.readLine(MAX_LINE)
      // readLine only bounds lines still waiting for their newline; one that arrived whole is checked here.
      if (line !== undefined && line.length > MAX_LINE) throw new Error(`line of ${line.length} bytes`)
    } catch (e) {
      if (!sock.destroyed) sock.end(`ERR line_too_long Request+line+longer+than+${MAX_LINE}+bytes\r\n`)
      log.warn({ peer: sock.remoteAddress, err: (e as Error).message }, 'dropping client: overlong or broken line')
      return
    }
    if (line === undefined) return
    if (!line.trim()) continue
    server.busy(sock, true)
    try {
      // Strip the reference's internal "<n>-<n> " request-id prefix if a client sends one.
      const body = line.replace(/^\s*\d+-\d+\s+/, '')
      const reply = body.startsWith('!') ? await bang(body.trim()) : await handleLine(body, ctx, counters)
      if (sock.destroyed) return
      sock.write(reply, 'latin1')
    } finally {
      server.busy(sock, false)
    }
    if (server.isClosing) return
  }
}
