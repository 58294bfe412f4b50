/**
 * Argument helpers shared by the command groups: required domain/key lookup,
 * key validation (varchar(255) limit) and numeric parsing.
 */
import type { DomainRow } from '../../db/types.js'
import type { Ctx } from '../context.js'
import { err } from '../errors.js'

/** Longest key the schema holds (file.dkey VARCHAR(255)). */
export const MAX_KEY = 255

/** The domain named by `args.domain`: no_domain when absent, unreg_domain when unknown. */
export function needDomain(args: Record<string, string>, ctx: Ctx): DomainRow {
  const name = args.domain
  if (!name) throw err('no_domain')
  const d = ctx.state.domain(name)
  if (!d) throw err('unreg_domain')
  return d
}

/** Validate a key: no_key when required and empty, invalid_key when longer than 255 characters. */
export function checkKey(key: string | undefined, required = true, name = 'key'): string {
  if (key === undefined || key === '') {
    if (required) throw err('no_key', 'No key provided')
    return ''
  }
  if ([...key].length > MAX_KEY) throw err('invalid_key', `${name} longer than ${MAX_KEY} characters`)
  return key
}

/** A non-negative integer argument, or `def` when absent/empty; bad_params when not digits. */
export function intArg(v: string | undefined, def: number): number {
  if (v === undefined || v === '') return def
  if (!/^\d+$/.test(v)) throw err('bad_params')
  return Number(v)
}

export function truthy(v: string | undefined): boolean {
  return !!v && v !== '0'
}
