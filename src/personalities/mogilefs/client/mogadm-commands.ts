/**
 * The mogadm verbs (everything except `check`), with MogileFS-Utils 2.30's
 * output formats. Called by src/cli/mogadm.ts with parsed positional args and
 * options; returns the exit code via the `out` helpers (fail → stderr, exit 1;
 * ok → silent unless --verbose).
 */
import { lookup } from 'node:dns/promises'
import type { MogileFSAdmin } from './admin.js'
import { MogileError } from './errors.js'

export interface MogadmOut {
  fail(msg: string): number
  failText(key: string): number
  ok(msg?: string): number
  topic(cmd: string, verb?: string, msg?: string): number
}

type Args = Record<string, string | boolean | undefined>

const w = (s: string) => process.stdout.write(s)
const s = (v: unknown) => (v === undefined || v === null ? '' : String(v))
const errstr = (e: unknown) => (e instanceof MogileError ? e.errstr : (e as Error).message)
/** `%25s = %-s` lines used by settings/rebalance listings. */
const kv = (k: string, v: string) => `${k.padStart(25)} = ${v}\n`

/** Run one `<topic> <verb>`; transport failures of list commands map to the original's fail_text. */
export async function runMogadmCommand(a: MogileFSAdmin, topic: string, verb: string, args: Args, out: MogadmOut): Promise<number> {
  const { fail, failText, ok } = out
  // Admin write calls: an ERR becomes "<prefix>: <errstr>".
  const call = async (prefix: string, cmd: string, req: Record<string, string | number | undefined>, okMsg: string): Promise<number> => {
    try {
      await a.raw(cmd, req)
    } catch (e) {
      if (!(e instanceof MogileError) || !e.fromTracker) throw e
      return fail(prefix ? `${prefix}${errstr(e)}` : errstr(e))
    }
    return ok(okMsg)
  }
  const str = (k: string) => (typeof args[k] === 'string' ? (args[k] as string) : undefined)
  switch (`${topic} ${verb}`) {
    case 'host list': {
      const hosts = await a.getHosts().catch(() => undefined)
      if (!hosts) return failText('no_hosts')
      for (const h of [...hosts].sort((x, y) => (String(x.hostid) < String(y.hostid) ? -1 : 1))) {
        w(`${h.hostname} [${h.hostid}]: ${h.status}\n`)
        const data: [string, string][] = [
          ['IP', `${s(h.hostip)}:${s(h.http_port)}`],
          ['Alt IP', s(h.altip)],
          ['Alt Mask', s(h.altmask)],
          ['GET Port', s(h.http_get_port)],
        ]
        for (const [k, v] of data) if (v) w(`  ${`${k}:`.padEnd(10)}${v}\n`)
        w('\n')
      }
      return ok()
    }
    case 'host add': {
      const hosts = await a.getHosts().catch(() => undefined)
      if (!hosts) return failText('no_hosts')
      const name = str('hostname') as string
      if (hosts.some((h) => h.hostname === name)) return fail('Host already exists.')
      let ip = str('ip')
      if (!ip) {
        ip = await lookup(name, { family: 4 }).then((r) => r.address).catch(() => undefined)
        if (!ip) return failText('host_add_no_ip')
      }
      return call('Failure creating host: ', 'create_host', {
        host: name,
        ip,
        port: str('port') || 7500,
        status: str('status') || 'down',
        getport: str('getport'),
        altip: str('altip'),
        altmask: str('altmask'),
      }, 'Host has been created.')
    }
    case 'host modify':
      return call('Failure modifying host: ', 'update_host', {
        host: str('hostname'),
        ip: str('ip'),
        port: str('port'),
        status: str('status'),
        getport: str('getport'),
        altip: str('altip'),
        altmask: str('altmask'),
      }, 'Host has been modified.')
    case 'host delete':
      return call('Failure deleting host: ', 'delete_host', { host: str('hostname') }, 'Host has been deleted.')
    case 'host mark':
      return call('Failure updating host status: ', 'update_host', { host: str('hostname'), status: str('status') }, 'Host status updated.')
    case 'domain list':
    case 'class list': {
      const domains = await a.getDomains().catch(() => undefined)
      if (!domains) return failText('no_domains')
      w(` ${'domain'.padEnd(20)} ${'class'.padEnd(20)} ${'mindevcount'.padEnd(12)}  ${'replpolicy'.padEnd(12)} ${'hashtype'.padEnd(7)}\n`)
      w(`${'-'.repeat(20)} ${'-'.repeat(20)} ${'-'.repeat(13)} ${'-'.repeat(12)} ${'-'.repeat(7)}\n`)
      for (const d of [...domains.keys()].sort()) {
        const classes = domains.get(d) as Map<string, { mindevcount: number; replpolicy: string; hashtype: string }>
        for (const c of [...classes.keys()].sort()) {
          const r = classes.get(c)!
          w(` ${d.padEnd(20)} ${c.padEnd(20)}      ${String(Math.trunc(r.mindevcount || 0)).padEnd(8)} ${(r.replpolicy || '').padEnd(13)} ${(r.hashtype || '').padEnd(7)}\n`)
        }
        w('\n')
      }
      return ok()
    }
    case 'domain add':
      return call('Error creating domain: ', 'create_domain', { domain: str('domain') }, 'Domain created.')
    case 'domain delete':
      return call('Error deleting domain: ', 'delete_domain', { domain: str('domain') }, 'Domain deleted.')
    case 'class add':
    case 'class modify': {
      const add = verb === 'add'
      return call(add ? 'Error creating class: ' : 'Error updating class: ', add ? 'create_class' : 'update_class', {
        domain: str('domain'),
        class: str('class'),
        mindevcount: Number(str('mindevcount') ?? 0) || 2,
        replpolicy: str('replpolicy') || '',
        hashtype: str('hashtype'),
      }, add ? 'Class created.' : 'Class updated.')
    }
    case 'class delete':
      return call('Error deleting class: ', 'delete_class', { domain: str('domain'), class: str('class') }, 'Class deleted.')
    case 'device add': {
      const hosts = await a.getHosts().catch(() => undefined)
      if (!hosts) return failText('no_hosts')
      const devid = str('devid') as string
      if (!/^\d+$/.test(devid)) return out.topic(topic, verb, 'devid should be numeric')
      return call('Error adding device: ', 'create_device', { hostname: str('hostname'), devid, state: str('status') || 'alive' }, 'Device added.')
    }
    case 'device mark':
      if (str('status') === 'drain') w("***NOTE***: As of server version 2.40 'drain' has changed. See docs/wiki\n")
      return call('Error updating device: ', 'set_state', { host: str('hostname'), device: str('devid'), state: str('status') }, 'Device updated.')
    case 'device modify': {
      if (str('status') === 'drain') w("***NOTE***: As of server version 2.40 'drain' has changed. See docs/wiki\n")
      const host = str('hostname')
      const device = str('devid')
      if (str('status')) {
        const r = await call('Error updating device: ', 'set_state', { host, device, state: str('status') }, '')
        if (r) return r
      }
      if (str('weight') && Number(str('weight'))) return call('Error updating device: ', 'set_weight', { host, device, weight: Number(str('weight')) }, 'Device updated.')
      return ok('Device updated.')
    }
    case 'device list': {
      const hosts = await a.getHosts().catch(() => undefined)
      if (!hosts) return failText('no_hosts')
      const devs = await a.getDevices().catch(() => undefined)
      if (!devs) return failText('no_devices')
      for (const h of [...hosts].sort((x, y) => (String(x.hostid) < String(y.hostid) ? -1 : 1))) {
        if (str('hostname') !== undefined && str('hostname') !== h.hostname) continue
        w(`${h.hostname} [${h.hostid}]: ${h.status}\n`)
        w(`${''.padStart(7)}  ${''.padEnd(7)} ${'used(G)'.padStart(10)} ${'free(G)'.padStart(10)} ${'total(G)'.padStart(10)} ${'weight(%)'.padStart(10)}\n`)
        for (const d of devs.filter((x) => x.hostid === h.hostid).sort((x, y) => (String(x.devid) < String(y.devid) ? -1 : 1))) {
          if (d.status === 'dead' && !args.all) continue
          const total = Number(d.mb_total || 0) / 1024
          const used = Number(d.mb_used || 0) / 1024
          w(`${`dev${d.devid}`.padStart(7)}: ${d.status.padStart(7)} ${used.toFixed(3).padStart(10)} ${(total - used).toFixed(3).padStart(10)} ${total.toFixed(3).padStart(10)} ${String(Math.max(0, Math.trunc(Number(d.weight || 0)))).padStart(10)}\n`)
        }
        w('\n')
      }
      return ok()
    }
    case 'device summary': {
      const show = new Set((str('status') || 'alive,readonly,drain').split(','))
      const hosts = await a.getHosts().catch(() => undefined)
      if (!hosts) return failText('no_hosts')
      const devs = await a.getDevices().catch(() => undefined)
      if (!devs) return failText('no_devices')
      w(`${'Hostname'.padEnd(15)} ${'HostID'.padStart(6)} ${'Status'.padStart(7)}  ${'used(G)'.padStart(8)} ${'free(G)'.padStart(8)} ${'total(G)'.padStart(8)} ${'%Used'.padStart(8)}\n`)
      for (const h of [...hosts].sort((x, y) => (String(x.hostid) < String(y.hostid) ? -1 : 1))) {
        if (str('hostname') !== undefined && str('hostname') !== h.hostname) continue
        let total = 0
        let used = 0
        for (const d of devs.filter((x) => x.hostid === h.hostid)) {
          if (!show.has(d.status)) continue
          total += Number(d.mb_total || 0) / 1024
          used += Number(d.mb_used || 0) / 1024
        }
        let line = `${h.hostname.padEnd(15)} [${String(h.hostid).padStart(4)}]: ${h.status.padStart(6)}`
        line += `  ${used.toFixed(3).padStart(8)} ${(total - used).toFixed(3).padStart(8)} ${total.toFixed(3).padStart(8)} `
        if (total) line += ((100 * used) / total).toFixed(2).padStart(8)
        w(line + '\n')
      }
      return ok()
    }
    case 'device next': {
      const devs = await a.getDevices()
      if (!devs.length) return failText('no_devices')
      w(`${Math.max(0, ...devs.map((d) => d.devid)) + 1}\n`)
      return ok()
    }
    case 'slave list': {
      const keys = await slaveKeys(a)
      for (const k of keys.sort()) {
        const v = await a.raw('server_setting', { key: `slave_${k}` })
        const [dsn, user, pass] = (v.value ?? '').split('|')
        w(`${k} --dsn=${s(dsn)} --username=${s(user)} --password=${s(pass)}\n`)
      }
      return ok()
    }
    case 'slave add':
    case 'slave modify': {
      const key = str('slave_key') as string
      try {
        const keys = await slaveKeys(a)
        let cur = ['', '', '']
        if (verb === 'modify') {
          if (!keys.includes(key)) return fail('Slave modify failure: ')
          cur = ((await a.raw('server_setting', { key: `slave_${key}` })).value ?? '').split('|')
        } else if (keys.includes(key)) return fail('Slave failed to be added')
        const val = [str('dsn') ?? cur[0], str('username') ?? cur[1], str('password') ?? cur[2]].join('|')
        await a.raw('set_server_setting', { key: `slave_${key}`, value: val })
        if (verb === 'add') await a.raw('set_server_setting', { key: 'slave_keys', value: [...keys, key].map((k) => `${k}=1`).join(',') })
      } catch (e) {
        return fail(verb === 'add' ? 'Slave failed to be added' : `Slave modify failure: ${errstr(e)}`)
      }
      return ok(verb === 'add' ? 'Slave added' : 'Slave modify success')
    }
    case 'slave delete': {
      const key = str('slave_key') as string
      try {
        const keys = await slaveKeys(a)
        if (!keys.includes(key)) return fail('Slave delete failed')
        await a.raw('set_server_setting', { key: `slave_${key}`, value: undefined })
        await a.raw('set_server_setting', { key: 'slave_keys', value: keys.filter((k) => k !== key).map((k) => `${k}=1`).join(',') })
      } catch {
        return fail('Slave delete failed')
      }
      return ok('Slave deleted')
    }
    case 'rebalance start':
      return call('', 'rebalance_start', {}, 'rebalance started')
    case 'rebalance stop':
      return call('', 'rebalance_stop', {}, 'rebalance stopped')
    case 'rebalance reset':
      return call('', 'rebalance_reset', {}, 'rebalance reset')
    case 'rebalance policy':
      return call('', 'rebalance_set_policy', { policy: str('options') }, 'changed policy setting')
    case 'rebalance test': {
      let r: Record<string, string>
      try {
        r = await a.raw('rebalance_test', {})
      } catch (e) {
        return fail(errstr(e))
      }
      w('Tested rebalance policy...\n')
      const ss = await a.serverSettings()
      w(`Policy: ${s(ss.get('rebal_policy'))}\n\n`)
      w('Source devices:\n')
      for (const d of (r.sdevs ?? '').split(',').filter(Boolean).sort()) w(` - ${d}\n`)
      w('Destination devices:\n')
      for (const d of (r.ddevs ?? '').split(',').filter(Boolean).sort()) w(` - ${d}\n`)
      return 0
    }
    case 'rebalance status': {
      let ss: Map<string, string>
      let r: Record<string, string>
      try {
        ss = await a.serverSettings()
        r = await a.raw('rebalance_status', {})
      } catch (e) {
        return fail(errstr(e))
      }
      w(ss.get('rebal_host') ? 'Rebalance is running\n' : 'Rebalance is stopped\n')
      w('Rebalance status:\n')
      for (const o of (r.state ?? '').split(/\s+/).filter(Boolean).sort()) {
        const [k, v] = o.split('=')
        w(kv(k, s(v)))
      }
      return 0
    }
    case 'rebalance settings': {
      const ss = await a.serverSettings().catch(() => undefined)
      if (!ss) return fail("can't get settings")
      for (const k of [...ss.keys()].sort()) if (k.startsWith('rebal_') && k !== 'rebal_state') w(kv(k, ss.get(k) ?? ''))
      return 0
    }
    case 'fsck start':
      return call('', 'fsck_start', {}, 'fsck started')
    case 'fsck stop':
      return call('', 'fsck_stop', {}, 'fsck stopped')
    case 'fsck reset':
      return call('', 'fsck_reset', { policy_only: args['policy-only'] ? 1 : undefined, startpos: str('startpos') }, 'fsck stopped')
    case 'fsck clearlog':
      return call('', 'fsck_clearlog', {}, 'fsck log cleared')
    case 'fsck printlog':
    case 'fsck taillog': {
      let max = 0
      if (verb === 'taillog') {
        const st = await a.raw('fsck_status', {}).catch(() => undefined)
        if (!st) return fail("can't get fsck status")
        max = Number(st.max_logid ?? 0) - 20
      }
      const fmt = (u: string, e: string, f: string, d: string) => `${u.padEnd(20)} ${e.padStart(5)} ${f.padStart(13)} ${d.padStart(10)}\n`
      w(fmt('unixtime', 'event', 'fid', 'devid'))
      for (;;) {
        const r = await a.raw('fsck_getlog', { after_logid: max })
        const n = Number(r.row_count ?? 0)
        if (!n) {
          if (verb === 'printlog') return 0
          // taillog: poll like the original (5 s between empty reads).
          await new Promise((res) => setTimeout(res, 5000))
          continue
        }
        let buf = ''
        for (let i = 1; i <= n; i++) {
          buf += fmt(s(r[`row_${i}_utime`]), s(r[`row_${i}_evcode`]), s(r[`row_${i}_fid`]), r[`row_${i}_devid`] || '-')
          max = Number(r[`row_${i}_logid`])
        }
        w(buf)
      }
    }
    case 'fsck status': {
      const st = await a.raw('fsck_status', {}).catch(() => undefined)
      if (!st) return fail("can't get fsck status")
      return fsckStatus(st)
    }
    case 'settings list': {
      const ss = await a.serverSettings().catch(() => undefined)
      if (!ss) return fail("can't get settings")
      for (const k of [...ss.keys()].sort()) if (!k.startsWith('rebal')) w(kv(k, ss.get(k) ?? ''))
      return 0
    }
    case 'settings set':
      return call('', 'set_server_setting', { key: str('key'), value: str('value') }, '')
  }
  return out.topic(topic)
}

async function slaveKeys(a: MogileFSAdmin): Promise<string[]> {
  const r = await a.raw('server_setting', { key: 'slave_keys' })
  return (r.value ?? '')
    .split(',')
    .map((p) => p.split('=')[0])
    .filter(Boolean)
}

function fsckStatus(st: Record<string, string>): number {
  const known = new Set(['current_time', 'max_logid'])
  const get = (k: string) => {
    known.add(k)
    return st[k]
  }
  const line = (k: string, v: string) => w(`${k.padStart(11)}: ${v}\n`)
  const asTime = (x: number) => (x < 60 ? `${Math.trunc(x)}s` : `${Math.trunc(x / 60)}m`)
  w('\n')
  const host = get('host')
  line('Running', Number(get('running')) ? `Yes (on ${host})` : 'No')
  const checked = Number(get('max_fid_checked') || 0)
  const end = Number(get('end_fid') || 0)
  const ratio = end ? checked / end : 0
  line('Status', `${s(get('max_fid_checked'))} / ${s(get('end_fid'))} (${(100 * ratio).toFixed(2)}%)`)
  const start = Number(get('start_time') || 0)
  const elap = start ? Number(get('stop_time') || get('current_time') || 0) - start : 0
  const perSec = elap ? checked / elap : 0
  line('Time', `${asTime(elap)} (${Math.trunc(Number(perSec.toFixed(1)))} fids/s; ${asTime(perSec ? (end - checked) / perSec : 0)} remain)`)
  line('Check Type', Number(get('policy_only')) ? 'Repl policy only (skip file checks)' : 'Normal (check policy + files)')
  const unk = Object.keys(st)
    .filter((k) => !known.has(k))
    .sort()
  if (unk.length) {
    w('\n')
    for (const k of unk) line(`[${k}]`, st[k])
  }
  w('\n')
  return 0
}
