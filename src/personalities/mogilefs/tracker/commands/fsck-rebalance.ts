/**
 * fsck_* and rebalance_* admin commands (spec §1.4). fsck: see jobs/fsck.ts.
 * Rebalance: see jobs/rebalance.ts (minimal: from/to devices or hosts + limit).
 */
import { QUEUE_FSCK, unixNow } from '../../db/types.js'
import type { Handler } from '../context.js'
import { err } from '../errors.js'
import { intArg, truthy } from './common.js'

export const fsckStart: Handler = async (_args, ctx) => {
  if (ctx.hooks.fsckRunning()) throw err('fsck_running')
  if (ctx.hooks.rebalRunning()) throw err('rebal_running')
  await ctx.hooks.fsckStart()
  return {}
}

export const fsckStop: Handler = async (_args, ctx) => {
  await ctx.hooks.fsckStop()
  return {}
}

export const fsckReset: Handler = async (args, ctx) => {
  const s = ctx.store
  await s.setSetting('fsck_highest_fid_checked', String(intArg(args.startpos, 0)))
  await s.setSetting('fsck_opt_policy_only', truthy(args.policy_only) ? '1' : '0')
  await s.setSetting('fsck_start_time', undefined)
  await s.setSetting('fsck_stop_time', undefined)
  await s.setSetting('fsck_queued_to', undefined)
  await s.queues.clearTyped(QUEUE_FSCK)
  return {}
}

export const fsckClearLog: Handler = async (_args, ctx) => {
  await ctx.store.queues.fsckClearLog()
  return {}
}

export const fsckStatus: Handler = async (_args, ctx) => {
  const s = await ctx.store.settings()
  const out: Record<string, string | number> = {
    running: s.fsck_host ? 1 : 0,
    host: s.fsck_host ?? '',
    max_fid_checked: s.fsck_highest_fid_checked ?? 0,
    policy_only: s.fsck_opt_policy_only ?? 0,
    end_fid: s.fsck_fid_at_end ?? '',
    start_time: s.fsck_start_time ?? '',
    stop_time: s.fsck_stop_time ?? '',
    current_time: unixNow(),
    max_logid: await ctx.store.queues.fsckLogMax(),
  }
  for (const [code, n] of Object.entries(await ctx.store.queues.fsckEvcounts())) out[`num_${code}`] = n
  return out
}

export const fsckGetLog: Handler = async (args, ctx) => {
  const rows = await ctx.store.queues.fsckLogAfter(intArg(args.after_logid, 0), 100)
  const out: Record<string, string | number> = { row_count: rows.length }
  rows.forEach((r, i) => {
    const p = `row_${i + 1}_`
    out[p + 'logid'] = Number(r.logid)
    out[p + 'utime'] = Number(r.utime)
    out[p + 'fid'] = r.fid === null ? '' : Number(r.fid)
    out[p + 'evcode'] = r.evcode
    out[p + 'devid'] = r.devid === null ? '' : Number(r.devid)
  })
  return out
}

const POLICY_KEYS = /^(from_hosts|from_devices|from_percent_used|from_percent_free|from_used|from_available|to_hosts|to_devices|to_percent_used|to_percent_free|to_used|to_available|limit_type|limit_by|limit|fid_age|use_dest_devs|leave_in_drain_mode|not_to_hosts|not_to_devices|not_from_hosts|not_from_devices)$/

function parsePolicy(p: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const piece of p.trim().split(/\s+/)) {
    if (!piece) continue
    const eq = piece.indexOf('=')
    const k = eq < 0 ? piece : piece.slice(0, eq)
    if (!POLICY_KEYS.test(k)) throw err('bad_rebal_pol', `unknown rebalance policy key ${k}`)
    out[k] = eq < 0 ? '' : piece.slice(eq + 1)
  }
  return out
}

export const rebalanceSetPolicy: Handler = async (args, ctx) => {
  if (!args.policy) throw err('no_set_rebal')
  parsePolicy(args.policy)
  await ctx.store.setSetting('rebal_policy', args.policy)
  return {}
}

/** Devices a policy would move from / to (names from_devices/to_devices or hosts). */
async function devsFor(ctx: Parameters<Handler>[1]): Promise<{ sdevs: number[]; ddevs: number[] }> {
  const pol = await ctx.store.setting('rebal_policy')
  if (!pol) throw err('no_rebal_policy')
  const p = parsePolicy(pol)
  const list = (v?: string) => (v ? v.split(',').filter(Boolean) : undefined)
  const devs = [...ctx.state.devices.values()].filter((d) => d.status !== 'dead')
  const pick = (devKey?: string, hostKey?: string) => {
    const ids = list(devKey)?.map(Number)
    const hosts = list(hostKey)
    return devs.filter((d) => (!ids || ids.includes(d.devid)) && (!hosts || hosts.includes(ctx.state.hosts.get(d.hostid)?.hostname ?? ''))).map((d) => d.devid)
  }
  return { sdevs: pick(p.from_devices, p.from_hosts), ddevs: pick(p.to_devices, p.to_hosts) }
}

export const rebalanceTest: Handler = async (_args, ctx) => {
  const { sdevs, ddevs } = await devsFor(ctx)
  return { sdevs: sdevs.join(','), ddevs: ddevs.join(',') }
}

export const rebalanceStart: Handler = async (_args, ctx) => {
  if (ctx.hooks.rebalRunning()) throw err('rebal_running')
  if (ctx.hooks.fsckRunning()) throw err('fsck_running')
  const pol = parsePolicy((await ctx.store.setting('rebal_policy')) ?? '')
  const { sdevs, ddevs } = await devsFor(ctx)
  const limit = pol.limit && /^\d+$/.test(pol.limit) && (!pol.limit_by || pol.limit_by === 'count' || pol.limit_by === 'none') ? Number(pol.limit) : undefined
  await ctx.hooks.rebalStart({ sdevs, ddevs: ddevs.filter((d) => !sdevs.includes(d)), limit })
  return { state: (await ctx.store.setting('rebal_state')) ?? '' }
}

export const rebalanceStop: Handler = async (_args, ctx) => {
  if (!ctx.hooks.rebalRunning()) throw err('rebal_not_started')
  await ctx.hooks.rebalStop()
  return {}
}

export const rebalanceStatus: Handler = async (_args, ctx) => {
  const s = await ctx.store.setting('rebal_state')
  if (!s) throw err('no_rebal_state')
  return { state: s }
}

export const rebalanceReset: Handler = async (_args, ctx) => {
  if (ctx.hooks.rebalRunning()) throw err('rebal_running')
  await ctx.store.setSetting('rebal_state', undefined)
  return {}
}
