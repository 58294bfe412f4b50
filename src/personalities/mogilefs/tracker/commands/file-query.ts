/**
 * Read/modify commands on stored files (spec §1.3): get_paths, delete, rename,
 * updateclass, file_info, file_debug, list_keys, list_fids.
 */
import type { DeviceRow, FileRow } from '../../db/types.js'
import { HASHNAMES } from '../../db/types.js'
import type { Ctx, Handler } from '../context.js'
import { err } from '../errors.js'
import { fidUrl } from '../paths.js'
import { headSize } from '../storage-http.js'
import { weightedShuffle } from '../weighted.js'
import { checkKey, intArg, needDomain, truthy } from './common.js'

async function needFile(args: Record<string, string>, ctx: Ctx): Promise<FileRow> {
  const dom = needDomain(args, ctx)
  const key = checkKey(args.key)
  const f = await ctx.store.files.byKey(dom.dmid, key)
  if (!f) throw err('unknown_key')
  return f
}

export const getPaths: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const found = await ctx.store.files.byKeyWithDevids(dom.dmid, checkKey(args.key))
  if (!found) throw err('unknown_key')
  const f = found.file
  const fid = Number(f.fid)
  const st = ctx.state
  const devs = found.devids.map((id) => st.devices.get(id)).filter((d): d is DeviceRow => !!d)
  if (!devs.length) return { paths: 0 }
  const pathcount = Math.max(2, intArg(args.pathcount, 2))
  const alt = args.zone === 'alt'
  const readable = devs.filter((d) => st.canRead(d))
  const byLoad = (d: DeviceRow) => (st.utilization.has(d.devid) ? 102 - (st.utilization.get(d.devid) ?? 0) : Math.max(0, d.weight))
  const ordered = [...weightedShuffle(readable.filter((d) => d.status !== 'drain'), byLoad), ...weightedShuffle(readable.filter((d) => d.status === 'drain'), byLoad)]
  const url = (d: DeviceRow) => fidUrl(st.hosts.get(d.hostid)!, d.devid, fid, true, alt)
  let chosen = ordered
  if (!truthy(args.noverify)) {
    // Verify the first candidate (HEAD, right length); skip ones that fail.
    while (chosen.length) {
      const size = await headSize(fidUrl(st.hosts.get(chosen[0].hostid)!, chosen[0].devid, fid), ctx.conf.nodeTimeout * 1000).catch(() => undefined)
      if (size === Number(f.length)) break
      chosen = chosen.slice(1)
    }
  }
  // Copies exist but none is readable/verified: hand out one unverified path as a last resort.
  if (!chosen.length) chosen = [ordered[0] ?? devs.find((d) => st.hosts.has(d.hostid))!].filter(Boolean)
  const out: Record<string, string | number> = {}
  const n = Math.min(pathcount, chosen.length)
  for (let i = 0; i < n; i++) out[`path${i + 1}`] = url(chosen[i])
  out.paths = n
  return out
}

export const deleteFile: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const key = checkKey(args.key)
  const fid = await ctx.store.files.deleteKey(dom.dmid, key)
  if (fid === undefined) throw err('unknown_key')
  ctx.hooks.deleted()
  return {}
}

export const rename: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const from = checkKey(args.from_key, true, 'from_key')
  const to = checkKey(args.to_key, true, 'to_key')
  const r = await ctx.store.files.rename(dom.dmid, from, to)
  if (r !== 'ok') throw err(r)
  return {}
}

export const updateClass: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const key = checkKey(args.key)
  if (!args.class) throw err('no_class')
  const cls = ctx.state.classByName(dom.dmid, args.class)
  if (!cls) throw err('class_not_found')
  const f = await ctx.store.files.byKey(dom.dmid, key)
  if (!f) throw err('invalid_key')
  if (Number(f.classid) !== cls.classid) {
    await ctx.store.files.setClass(Number(f.fid), cls.classid)
    ctx.hooks.replicate(Number(f.fid))
  }
  return {}
}

export const fileInfo: Handler = async (args, ctx) => {
  const f = await needFile(args, ctx)
  const fid = Number(f.fid)
  const dom = ctx.state.domainsById.get(Number(f.dmid))
  const cls = ctx.state.classById(Number(f.dmid), Number(f.classid))
  const out: Record<string, string | number> = { fid, domain: dom?.namespace ?? '', class: cls.classname, key: f.dkey, length: Number(f.length), devcount: Number(f.devcount) }
  if (truthy(args.devices)) out.devids = (await ctx.store.files.devids(fid)).join(',')
  if (cls.hashtype) {
    const c = await ctx.store.files.checksum(fid)
    out.checksum = c ? `${HASHNAMES[c.hashtype]}:${c.digest.toString('hex')}` : 'MISSING'
  }
  return out
}

export const fileDebug: Handler = async (args, ctx) => {
  let fid: number
  const out: Record<string, string | number> = {}
  if (args.fid) fid = intArg(args.fid, 0)
  else {
    const f = await needFile(args, ctx)
    fid = Number(f.fid)
  }
  const k = ctx.store.k
  const f = await ctx.store.files.byFid(fid)
  if (f) {
    const dom = ctx.state.domainsById.get(Number(f.dmid))
    const cls = ctx.state.classById(Number(f.dmid), Number(f.classid))
    Object.assign(out, { fid_fid: fid, fid_dmid: f.dmid, fid_dkey: f.dkey, fid_length: f.length, fid_classid: f.classid, fid_devcount: f.devcount, fid_domain: dom?.namespace ?? '', fid_class: cls.classname })
  }
  const flat = (prefix: string, row: Record<string, unknown> | undefined) => {
    if (row) for (const [c, v] of Object.entries(row)) out[`${prefix}_${c}`] = v === null || v === undefined ? '' : String(v)
  }
  flat('tempfile', await k('tempfile').where({ fid }).first())
  flat('replqueue', await k('file_to_replicate').where({ fid }).first())
  flat('delqueue', await k('file_to_delete2').where({ fid }).first())
  flat('rebqueue', await k('file_to_queue').where({ fid, type: 2 }).first())
  flat('fsckqueue', await k('file_to_queue').where({ fid, type: 1 }).first())
  const devids = await ctx.store.files.devids(fid)
  for (const d of devids) {
    const dev = ctx.state.devices.get(d)
    const h = dev && ctx.state.hosts.get(dev.hostid)
    if (h) out[`devpath_${d}`] = fidUrl(h, d, fid)
  }
  if (devids.length) out.devids = devids.join(',')
  const c = await ctx.store.files.checksum(fid)
  out.checksum = c ? `${HASHNAMES[c.hashtype]}:${c.digest.toString('hex')}` : 'NONE'
  return out
}

export const listKeys: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const prefix = args.prefix ?? ''
  const after = args.after
  if (after && prefix && !after.startsWith(prefix)) throw err('after_mismatch')
  const limit = Math.min(1000, Math.max(1, intArg(args.limit, 1000) || 1000))
  const keys = await ctx.store.files.listKeys(dom.dmid, prefix, after, limit, ctx.state.flag('case_sensitive_list_keys'))
  if (!keys.length) throw err('none_match')
  const out: Record<string, string | number> = { key_count: keys.length }
  keys.forEach((k, i) => (out[`key_${i + 1}`] = k))
  out.next_after = keys[keys.length - 1]
  return out
}

export const listFids: Handler = async (args, ctx) => {
  const from = intArg(args.from, 0)
  const count = Math.min(500, intArg(args.to, 100) || 100)
  const rows = await ctx.store.files.listFids(from, count)
  const out: Record<string, string | number> = { fid_count: rows.length }
  rows.forEach((f, i) => {
    const p = `fid_${i + 1}_`
    out[p + 'fid'] = Number(f.fid)
    out[p + 'domain'] = ctx.state.domainsById.get(Number(f.dmid))?.namespace ?? ''
    out[p + 'class'] = ctx.state.classById(Number(f.dmid), Number(f.classid)).classname
    out[p + 'key'] = f.dkey
    out[p + 'length'] = Number(f.length)
    out[p + 'devcount'] = Number(f.devcount)
  })
  return out
}
