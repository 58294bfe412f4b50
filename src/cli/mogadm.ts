/**
 * `mogadm` (MogileFS-Utils 2.30): administer a MogileFS installation through
 * the tracker. Global options: --trackers, --config, --lib (ignored), --help,
 * --verbose. Prints nothing on success unless --verbose (then the OK message).
 * Failures: message on stderr, exit 1; usage/help on stdout, exit 1.
 */
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { MogileFSAdmin, type DeviceRow, type HostRow } from '../personalities/mogilefs/client/admin.js'
import { MogileError } from '../personalities/mogilefs/client/errors.js'
import { httpGet } from '../personalities/mogilefs/client/http-transfer.js'
import { TEXT, USAGE, topUsage, topicHelp } from '../personalities/mogilefs/client/mogadm-usage.js'
import { OptionError, getopts, readConfFiles } from '../personalities/mogilefs/client/tool-options.js'
import { runMogadmCommand } from '../personalities/mogilefs/client/mogadm-commands.js'

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv)
  } catch (e) {
    if (e instanceof MogileError) {
      process.stderr.write(`MogileFS::Backend: ${e.message}\n`)
      return 255
    }
    throw e
  }
}

async function run(argv: string[]): Promise<number> {
  // Global options stop at the first non-option (Getopt require_order + pass_through).
  const firstCmd = argv.findIndex((a) => !a.startsWith('-'))
  const globalArgs = firstCmd < 0 ? argv : argv.slice(0, firstCmd)
  let rest = firstCmd < 0 ? [] : argv.slice(firstCmd)
  let g: Record<string, string | boolean>
  try {
    const p = getopts(globalArgs, ['trackers=s', 'config=s', 'lib=s', 'help', 'verbose'])
    g = p.values
    rest = [...p.rest, ...rest]
  } catch {
    return usage()
  }
  const conf = readConfFiles([g.config as string | undefined, path.join(process.env.HOME ?? os.homedir(), '.mogilefs.conf'), '/etc/mogilefs/mogilefs.conf'])
  const opts: Record<string, string | boolean> = { ...conf, ...g }
  if (opts.help) return usage()
  const topcmd = rest.shift()
  if (!topcmd || !USAGE[topcmd]) return usage()
  let trackers = typeof opts.trackers === 'string' ? opts.trackers.split(/\s*,\s*/).filter(Boolean) : []
  if (!trackers.length) {
    if (await probe('127.0.0.1', 7001)) trackers = ['127.0.0.1:7001']
    else return failText('no_trackers')
  }
  // 15 s: the original's choice (10 s admin locks such as fsck status, plus slack).
  const timeout = typeof opts.timeout === 'string' && /^\d+$/.test(opts.timeout) ? Number(opts.timeout) : 15
  const ctx = { trackers, verbose: !!opts.verbose, timeout }
  verboseFlag = ctx.verbose
  if (topcmd === 'check' || topcmd === 'stats') {
    if (rest.length) {
      process.stderr.write(`Unknown options/arguments to '${topcmd}' command.\n`)
      return 255
    }
    if (topcmd === 'stats') return fail("mogadm stats is deprecated by new 'mogstats' utility")
    return check(ctx)
  }
  const verb = rest.shift()
  const info = verb ? USAGE[topcmd].subcmd?.[verb] : undefined
  if (!verb || !info) return topic(topcmd)
  const args: Record<string, string | boolean | undefined> = {}
  if (info.args) {
    for (const a of info.args.split(' ')) {
      const m = /^<(.+)>$/.exec(a)
      if (!m) continue
      let val = rest.shift()
      if (m[1] === 'devid' && val && /^dev(\d+)$/.test(val)) val = val.slice(3)
      if (val === undefined) return topic(topcmd, verb, `Missing argument '${m[1]}'`)
      if (val.startsWith('-')) return topic(topcmd, verb, `Unexpected option.  Expected argument '${m[1]}'`)
      args[m[1]] = val
    }
    if (rest.length && !rest[0].startsWith('-')) return topic(topcmd, verb, 'Unexpected extra argument.')
  } else if (rest.length) return topic(topcmd, verb, 'Unexpected arguments when expecting none.')
  const specs = Object.keys(info.opts ?? {})
    .filter((k) => k.startsWith('--'))
    .map((k) => k.slice(2))
  try {
    const p = getopts(rest, specs)
    if (p.rest.length) throw new OptionError(`Unknown option: ${p.rest[0]}`)
    Object.assign(args, p.values)
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    return topic(topcmd, verb)
  }
  const admin = new MogileFSAdmin({ trackers, timeout })
  try {
    return await runMogadmCommand(admin, topcmd, verb, args, { fail, failText, ok, topic })
  } finally {
    admin.close()
  }
}

/** Settings the command implementations need. */
export interface MogadmCtx {
  trackers: string[]
  verbose: boolean
  timeout: number
}

function usage(): number {
  process.stdout.write(topUsage())
  return 1
}

function topic(cmd: string, verb?: string, msg?: string): number {
  process.stdout.write(topicHelp(cmd, verb, msg))
  return 1
}

function failText(key: string): number {
  process.stderr.write((TEXT[key] ?? `UNDEFINED [${key}]`) + '\n')
  return 1
}

function fail(msg: string): number {
  process.stderr.write(msg + '\n')
  return 1
}

let verboseFlag = false
function ok(msg?: string): number {
  if (verboseFlag && msg) process.stdout.write(msg + '\n')
  return 0
}

function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    // 1 s: the original's connect timeout for the local-tracker probe.
    const t = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 1000)
    s.once('connect', () => {
      clearTimeout(t)
      s.destroy()
      resolve(true)
    })
    s.once('error', () => {
      clearTimeout(t)
      resolve(false)
    })
  })
}

/** Fetch a small URL's body as text, or undefined on any failure (LWP::Simple::get). */
async function getText(url: string): Promise<string | undefined> {
  try {
    const r = await httpGet(url)
    const chunks: Buffer[] = []
    for await (const c of r.body as AsyncIterable<Buffer>) chunks.push(c)
    return r.status >= 200 && r.status < 300 ? Buffer.concat(chunks).toString('latin1') : undefined
  } catch {
    return undefined
  }
}

const f3 = (n: number, w: number) => n.toFixed(3).padStart(w)

async function check(ctx: MogadmCtx): Promise<number> {
  verboseFlag = ctx.verbose
  const now = Math.floor(Date.now() / 1000)
  let hosts: HostRow[] | undefined
  let devices: DeviceRow[] | undefined
  const w = (s: string) => process.stdout.write(s)
  w('Checking trackers...\n')
  for (const t of ctx.trackers) {
    w(`  ${t} ... `)
    const a = new MogileFSAdmin({ trackers: [t], timeout: ctx.timeout })
    try {
      const h = await a.getHosts()
      const d = await a.getDevices()
      w('OK\n')
      hosts = h
      devices = d
    } catch {
      w('REQUEST FAILURE (is the tracker up?)\n')
    } finally {
      a.close()
    }
  }
  if (!hosts || !devices) return failText('no_hosts')
  w('\n')
  w('Checking hosts...\n')
  const urls: [number, string][] = []
  for (const h of [...hosts].sort((a, b) => a.hostid - b.hostid)) {
    w(`  [${String(h.hostid).padStart(2)}] ${h.hostname} ... `)
    if (h.status === 'alive') {
      const url = `http://${h.hostip}:${h.http_port}/`
      if ((await getText(url)) !== undefined) {
        w('OK\n')
        urls.push([h.hostid, url])
      } else w(`REQUEST FAILURE FETCHING: ${url}\n`)
    } else w(`skipping; status = ${h.status}\n`)
  }
  if (!urls.length) return failText('no_devices')
  w('\n')
  w('Checking devices...\n')
  w(`  host device      ${'size(G)'.padStart(10)} ${'used(G)'.padStart(10)} ${'free(G)'.padStart(10)} ${'use% '.padStart(7)}  ${'ob state'.padStart(7)}   I/O%\n`)
  w('  ---- ------------ ---------- ---------- ---------- ------ ---------- -----\n')
  const total = { total: 0, used: 0, avail: 0 }
  for (const [hostid, url] of urls) {
    const devs = devices.filter((d) => d.hostid === hostid).sort((a, b) => a.devid - b.devid)
    for (const dev of devs) {
      const status = dev.status || '??'
      if (status === 'dead') continue
      w(`  [${String(hostid).padStart(2)}] ${`dev${dev.devid}`.padEnd(7)}`)
      const usage = await getText(`${url}/dev${dev.devid}/usage`)
      if (usage === undefined) {
        w(`REQUEST FAILURE FETCHING: ${url}dev${dev.devid}/usage\n`)
        continue
      }
      if (!usage.length) {
        w(`USAGE FILE BROKEN OR EMPTY: ${url}dev${dev.devid}/usage\n`)
        continue
      }
      const data: Record<string, string> = {}
      for (const line of usage.split(/\r?\n/)) {
        const m = /^(.*?):\s+(.*)$/.exec(line)
        if (m) data[m[1]] = m[2]
      }
      const num = (k: string) => (data[k] && /^\d+(\.\d+)?$/.test(data[k]) ? Number(data[k]) : 0)
      const missing = ['available', 'device', 'disk'].find((k) => !data[k])
      if (missing) {
        w(`MISSING FIELD (${missing}) FROM USAGE FILE: ${url}dev${dev.devid}/usage\n`)
        continue
      }
      void (now - num('time'))
      const used = num('used') / 1024 ** 2
      const tot = num('total') / 1024 ** 2
      const avail = Number(data.available) / 1024 ** 2
      const pct = 100 - (avail / tot) * 100
      total.used += used
      total.avail += avail
      total.total += tot
      const util = dev.utilization !== undefined && /^\d+(\.\d+)?$/.test(dev.utilization) ? Number(dev.utilization).toFixed(1) : 'N/A'
      w(`     ${f3(tot, 10)} ${f3(used, 10)} ${f3(avail, 10)} ${pct.toFixed(2).padStart(6)}%  ${(dev.observed_state || '?').padEnd(7)} ${util.padStart(5)}\n`)
    }
  }
  const pct = total.total > 0 ? 100 - (total.avail / total.total) * 100 : 0
  w('  ---- ------------ ---------- ---------- ---------- ------\n')
  w(`             total:${f3(total.total, 10)} ${f3(total.used, 10)} ${f3(total.avail, 10)} ${pct.toFixed(2).padStart(6)}%\n`)
  return ok()
}

