/**
 * Admin commands for domains and classes (spec §1.4): get_domains,
 * create_domain, delete_domain, create_class, update_class, delete_class.
 * Replies echo the request fields as the reference does.
 */
import { DuplicateError } from '../../db/store.js'
import { HASHNAMES, HASHTYPES } from '../../db/types.js'
import { validPolicy } from '../../jobs/policy.js'
import type { Handler } from '../context.js'
import { err } from '../errors.js'
import { checkKey } from './common.js'

export const getDomains: Handler = async (_args, ctx) => {
  const out: Record<string, string | number> = {}
  const doms = [...ctx.state.domainsById.values()].sort((a, b) => a.dmid - b.dmid)
  out.domains = doms.length
  doms.forEach((d, i) => {
    const p = `domain${i + 1}`
    out[p] = d.namespace
    const classes = ctx.state.classList(d.dmid)
    out[`${p}classes`] = classes.length
    classes.forEach((c, j) => {
      const q = `${p}class${j + 1}`
      out[`${q}name`] = c.classname
      out[`${q}mindevcount`] = c.mindevcount
      out[`${q}replpolicy`] = c.replpolicy || 'MultipleHosts()'
      out[`${q}hashtype`] = c.hashtype ? HASHNAMES[c.hashtype] : 'NONE'
    })
  })
  return out
}

export const createDomain: Handler = async (args, ctx) => {
  const domain = args.domain
  if (!domain) throw err('no_domain')
  checkKey(domain, true, 'domain')
  try {
    await ctx.store.createDomain(domain)
  } catch (e) {
    if (e instanceof DuplicateError) throw err('domain_exists')
    throw e
  }
  await ctx.refresh()
  return { domain }
}

export const deleteDomain: Handler = async (args, ctx) => {
  const domain = args.domain
  if (!domain) throw err('no_domain')
  const d = ctx.state.domain(domain)
  if (!d) throw err('domain_not_found')
  if (await ctx.store.domainHasFiles(d.dmid)) throw err('domain_has_files')
  if (ctx.state.classList(d.dmid).some((c) => c.classid !== 0)) throw err('domain_has_classes')
  await ctx.store.deleteDomain(d.dmid)
  await ctx.store.k('class').where({ dmid: d.dmid }).delete()
  await ctx.refresh()
  return { domain }
}

function classArgs(args: Record<string, string>) {
  if (!args.domain) throw err('no_domain')
  if (!args.class) throw err('no_class')
  const mindevcount = Number(args.mindevcount)
  if (!(Number.isInteger(mindevcount) && mindevcount > 0 && mindevcount < 256)) throw err('invalid_mindevcount')
  const replpolicy = args.replpolicy || ''
  if (replpolicy && !validPolicy(replpolicy)) throw err('invalid_replpolicy', `Unknown replication policy ${replpolicy}`)
  let hashtype: number | null | undefined
  if (args.hashtype) {
    if (args.hashtype === 'NONE') hashtype = null
    else if (HASHTYPES[args.hashtype]) hashtype = HASHTYPES[args.hashtype]
    else throw err('invalid_hashtype')
  }
  return { mindevcount, replpolicy, hashtype }
}

async function createOrUpdateClass(args: Record<string, string>, ctx: Parameters<Handler>[1], update: boolean) {
  const a = classArgs(args)
  const cls = args.class
  checkKey(cls, true, 'class')
  const d = ctx.state.domain(args.domain)
  if (!d) throw err('domain_not_found')
  await ctx.refresh()
  const stored = ctx.state.classes.get(d.dmid)?.get(cls.toLowerCase())
  if (update && !stored && cls !== 'default') throw err('class_not_found')
  if (!update && stored) throw err('class_exists')
  const set: Record<string, unknown> = { mindevcount: a.mindevcount }
  if (a.replpolicy) set.replpolicy = a.replpolicy
  if (a.hashtype !== undefined) set.hashtype = a.hashtype
  if (stored) await ctx.store.updateClass(d.dmid, stored.classid, set)
  else {
    try {
      await ctx.store.createClass({ dmid: d.dmid, classname: cls, mindevcount: a.mindevcount, replpolicy: a.replpolicy || null, hashtype: a.hashtype ?? null, classid: cls === 'default' ? 0 : undefined })
    } catch (e) {
      if (e instanceof DuplicateError) throw err('class_exists')
      throw e
    }
  }
  await ctx.refresh()
  return { class: cls, mindevcount: a.mindevcount, domain: args.domain }
}

export const createClass: Handler = (args, ctx) => createOrUpdateClass(args, ctx, false)
export const updateClassAdmin: Handler = (args, ctx) => createOrUpdateClass(args, ctx, true)

export const deleteClass: Handler = async (args, ctx) => {
  if (!args.domain) throw err('no_domain')
  if (!args.class) throw err('no_class')
  const d = ctx.state.domain(args.domain)
  if (!d) throw err('domain_not_found')
  if (args.class === 'default') throw err('nodel_default_class')
  const c = ctx.state.classes.get(d.dmid)?.get(args.class.toLowerCase())
  if (!c) throw err('class_not_found')
  if (await ctx.store.classHasFiles(d.dmid, c.classid)) throw err('class_has_files')
  await ctx.store.deleteClass(d.dmid, c.classid)
  await ctx.refresh()
  return { domain: args.domain, class: args.class }
}
