/**
 * Admin commands for hosts, devices and server settings (spec §1.4), plus the
 * small utility commands (noop, sleep, test, clear_cache, replicate_now,
 * do_monitor_round).
 */
import net from 'node:net'
import { DuplicateError } from '../../db/store.js'
import type { DeviceStatus, HostRow, HostStatus } from '../../db/types.js'
import type { Handler } from '../context.js'
import { err } from '../errors.js'
import { intArg } from './common.js'

const HOST_STATES: HostStatus[] = ['alive', 'dead', 'down', 'readonly']
const DEV_STATES: DeviceStatus[] = ['alive', 'dead', 'down', 'readonly', 'drain']
/** Probe new/changed hosts and devices now instead of at the next monitor tick (not awaited). */
function kickMonitor(ctx: Parameters<Handler>[1]): void {
  ctx.hooks.monitorRound().catch(() => {})
}

const nz = (v: unknown) => (v === null || v === undefined ? '' : String(v))

export const getHosts: Handler = async (args, ctx) => {
  let hosts = [...ctx.state.hosts.values()]
  if (args.hostid) hosts = hosts.filter((h) => h.hostid === Number(args.hostid))
  const out: Record<string, string | number> = { hosts: hosts.length }
  hosts.forEach((h, i) => {
    const p = `host${i + 1}_`
    for (const c of ['hostid', 'status', 'hostname', 'hostip', 'http_port', 'http_get_port', 'altip', 'altmask'] as const) out[p + c] = nz(h[c])
  })
  return out
}

async function createOrUpdateHost(args: Record<string, string>, ctx: Parameters<Handler>[1], update: boolean) {
  const name = args.host
  if (!name) throw err('no_host')
  if (name.length > 40) throw err('bad_params')
  const existing = ctx.state.hostByName(name)
  if (update && !existing) throw err('host_not_found')
  if (!update) {
    if (existing) throw err('host_exists')
    if (!args.ip) throw err('no_ip')
    if (!args.port) throw err('no_port')
  }
  const status = (args.status || (update ? undefined : 'down')) as HostStatus | undefined
  if (status && !HOST_STATES.includes(status)) throw err('unknown_state')
  for (const ip of [args.ip, args.altip]) if (ip && !net.isIPv4(ip)) throw err('bad_params', 'IP must be an IPv4 address')
  const set: Partial<Omit<HostRow, 'hostid'>> = {}
  if (status) set.status = status
  if (args.ip !== undefined) set.hostip = args.ip
  if (args.port !== undefined) set.http_port = intArg(args.port, 7500)
  if (args.getport !== undefined) set.http_get_port = args.getport === '' ? null : intArg(args.getport, 0)
  if (args.altip !== undefined) set.altip = args.altip || null
  if (args.altmask !== undefined) set.altmask = args.altmask || null
  let hostid: number
  try {
    if (existing) {
      hostid = existing.hostid
      await ctx.store.updateHost(hostid, set)
    } else hostid = await ctx.store.createHost({ hostname: name, hostip: args.ip, http_port: 7500, http_get_port: null, altip: null, altmask: null, status: 'down', ...set })
  } catch (e) {
    if (e instanceof DuplicateError) throw err('dup')
    throw e
  }
  await ctx.refresh()
  kickMonitor(ctx)
  return { hostid, hostname: name }
}

export const createHost: Handler = (args, ctx) => createOrUpdateHost(args, ctx, false)
export const updateHost: Handler = (args, ctx) => createOrUpdateHost(args, ctx, true)

export const deleteHost: Handler = async (args, ctx) => {
  const h = args.host ? ctx.state.hostByName(args.host) : undefined
  if (!h) throw err('unknown_host')
  await ctx.refresh()
  if ([...ctx.state.devices.values()].some((d) => d.hostid === h.hostid)) throw err('host_not_empty')
  await ctx.store.deleteHost(h.hostid)
  await ctx.refresh()
  return {}
}

export const getDevices: Handler = async (args, ctx) => {
  const st = ctx.state
  let devs = [...st.devices.values()]
  if (args.devid) devs = devs.filter((d) => d.devid === Number(args.devid))
  const out: Record<string, string | number> = { devices: devs.length }
  devs.forEach((d, i) => {
    const p = `dev${i + 1}_`
    out[p + 'devid'] = d.devid
    out[p + 'hostid'] = d.hostid
    out[p + 'status'] = d.status
    out[p + 'weight'] = d.weight
    out[p + 'mb_total'] = nz(d.mb_total)
    out[p + 'mb_used'] = nz(d.mb_used)
    out[p + 'mb_asof'] = ''
    out[p + 'mb_free'] = d.mb_total !== null && d.mb_used !== null ? st.mbFree(d) : ''
    out[p + 'observed_state'] = st.devObserved.get(d.devid) ?? ''
    out[p + 'utilization'] = (st.utilization.get(d.devid) ?? 0).toFixed(2)
    out[p + 'reject_bad_md5'] = st.rejectBadMd5.get(d.devid) === false ? 0 : 1
  })
  return out
}

export const createDevice: Handler = async (args, ctx) => {
  const state = (args.state || 'alive') as DeviceStatus
  if (!DEV_STATES.includes(state)) throw err('invalid_state')
  if (!/^\d+$/.test(args.devid ?? '') || Number(args.devid) <= 0 || Number(args.devid) > 16777215) throw err('invalid_devid')
  let hostid: number
  if (args.hostid) {
    hostid = Number(args.hostid)
    if (!ctx.state.hosts.has(hostid)) throw err('unknown_hostid')
  } else if (args.hostname) {
    const h = ctx.state.hostByName(args.hostname)
    if (!h) throw err('unknown_host')
    hostid = h.hostid
  } else throw err('bad_args')
  try {
    await ctx.store.createDevice({ devid: Number(args.devid), hostid, status: state })
  } catch (e) {
    if (e instanceof DuplicateError) throw err('existing_devid')
    throw e
  }
  await ctx.refresh()
  kickMonitor(ctx)
  return {}
}

function findDevice(args: Record<string, string>, ctx: Parameters<Handler>[1]) {
  if (!args.host || !args.device) throw err('bad_params')
  const h = ctx.state.hostByName(args.host)
  const d = ctx.state.devices.get(Number(args.device))
  if (!d) throw err('no_device')
  if (!h || d.hostid !== h.hostid) throw err('host_mismatch')
  return d
}

export const setState: Handler = async (args, ctx) => {
  const d = findDevice(args, ctx)
  const state = args.state as DeviceStatus
  if (!DEV_STATES.includes(state)) throw err('bad_params')
  if (d.status === 'dead' && state === 'alive') throw err('state_too_high')
  await ctx.store.updateDevice(d.devid, { status: state })
  await ctx.refresh()
  kickMonitor(ctx)
  return {}
}

export const setWeight: Handler = async (args, ctx) => {
  const d = findDevice(args, ctx)
  if (!/^\d+$/.test(args.weight ?? '')) throw err('bad_params')
  await ctx.store.updateDevice(d.devid, { weight: Number(args.weight) })
  await ctx.refresh()
  return {}
}

const WRITABLE = /^(slave_.*|skip_devcount|skip_mkcol|case_sensitive_list_keys|memcache_servers|memcache_ttl|internal_queue_limit|network_zones|zone_.*|queue_(size|rate)_for_.*|fsck_checksum|rebal_policy)$/

export const serverSetting: Handler = async (args, ctx) => {
  if (!args.key) throw err('bad_params')
  const value = await ctx.store.setting(args.key)
  return { key: args.key, value: value ?? '' }
}

export const serverSettings: Handler = async (_args, ctx) => {
  const all = await ctx.store.settings()
  const keys = Object.keys(all).filter((k) => !k.startsWith('fsck_') || k === 'fsck_checksum').sort()
  const out: Record<string, string | number> = { key_count: keys.length }
  keys.forEach((k, i) => {
    out[`key_${i + 1}`] = k
    out[`value_${i + 1}`] = all[k]
  })
  return out
}

export const setServerSetting: Handler = async (args, ctx) => {
  const key = args.key
  if (!key) throw err('bad_params')
  if (!WRITABLE.test(key)) throw err('not_writable')
  let value: string | undefined = args.value
  if (/^(skip_devcount|skip_mkcol|case_sensitive_list_keys)$/.test(key) && value) {
    if (/^(0|f|off|n)/i.test(value)) value = '0'
    else if (/^(1|t|on|y)/i.test(value)) value = '1'
    else throw err('invalid_format')
  }
  if (/^(memcache_ttl|internal_queue_limit|queue_(size|rate)_for_.*)$/.test(key) && value && !/^\d+$/.test(value)) throw err('invalid_format')
  if (key === 'fsck_checksum' && value && !['off', 'class', 'MD5', 'SHA-1'].includes(value)) throw err('invalid_format')
  await ctx.store.setSetting(key, value === '' ? undefined : value)
  await ctx.refresh()
  return {}
}

export const replicateNow: Handler = async (_args, ctx) => {
  const count = await ctx.store.queues.replicateNow()
  ctx.hooks.replicate(0)
  return { count }
}

export const clearCache: Handler = async (args, ctx) => {
  await ctx.refresh()
  return { ...args }
}

export const doMonitorRound: Handler = async (_args, ctx) => {
  await ctx.hooks.monitorRound()
  return {}
}

export const noop: Handler = async () => ({})

export const sleep: Handler = async (args) => {
  // duration=0 means the reference's default of 10 s; capped so a client cannot pin a slot for long.
  const s = Math.min(Number(args.duration) || 10, 60)
  await new Promise((r) => setTimeout(r, s * 1000))
  return {}
}

export const test: Handler = async (args) => {
  if (args.crash) throw err('failure')
  return {}
}
