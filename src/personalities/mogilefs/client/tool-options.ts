/**
 * Shared plumbing of the MogileFS-Utils style tools (mogupload, mogfetch, ...):
 * Getopt::Long-like parsing (`--opt=v`, `--opt v`, `-opt`, unique prefixes),
 * the config files (`--conf`, `$MOGUTILSCONF`, `~/.mogilefs.conf`,
 * `/etc/mogilefs/mogilefs.conf`; `key = value`, `#` comments) and tracker
 * normalisation (a tracker without a port gets `:7001`).
 */
import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** Option spec as Getopt::Long writes it: `key=s`, `count=i`, `help`. */
export type OptSpec = string

export class OptionError extends Error {}

/**
 * Parse argv against `specs`. Returns values by option name plus leftovers.
 * Unknown or ambiguous options and bad integers throw OptionError (the tools
 * then print their usage, like Getopt::Long's failure path).
 */
export function getopts(argv: string[], specs: OptSpec[], opts: { stopAtNonOption?: boolean } = {}): { values: Record<string, string | boolean>; rest: string[] } {
  const defs = specs.map((s) => {
    const m = /^([\w-]+)(?:=([si]))?$/.exec(s) as RegExpExecArray
    return { name: m[1], type: (m[2] ?? '') as '' | 's' | 'i' }
  })
  const values: Record<string, string | boolean> = {}
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      rest.push(...argv.slice(i + 1))
      break
    }
    const m = /^--?([\w-]+)(?:=(.*))?$/s.exec(a)
    if (!m || a === '-') {
      rest.push(a)
      if (opts.stopAtNonOption) {
        rest.push(...argv.slice(i + 1))
        break
      }
      continue
    }
    const name = m[1]
    let d = defs.find((x) => x.name === name)
    if (!d) {
      const cands = defs.filter((x) => x.name.startsWith(name))
      if (cands.length !== 1) throw new OptionError(cands.length ? `Option ${name} is ambiguous` : `Unknown option: ${name}`)
      d = cands[0]
    }
    if (!d.type) {
      values[d.name] = true
      continue
    }
    let v = m[2]
    if (v === undefined) {
      if (i + 1 >= argv.length) throw new OptionError(`Option ${name} requires an argument`)
      v = argv[++i]
    }
    if (d.type === 'i' && !/^-?\d+$/.test(v)) throw new OptionError(`Value "${v}" invalid for option ${name} (number expected)`)
    values[d.name] = v
  }
  return { values, rest }
}

/** `key = value` lines of the first existing files; earlier files win per key. */
export function readConfFiles(files: (string | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of files) {
    if (!f || !existsSync(f)) continue
    for (let line of readFileSync(f, 'utf8').split('\n')) {
      line = line.replace(/#.*/, '')
      const m = /^\s*(\w+)\s*=\s*(.+?)\s*$/.exec(line)
      if (m && !(m[1] in out)) out[m[1]] = m[2]
    }
  }
  return out
}

/**
 * Config files in priority order for MogileFS::Utils tools. Note: the Perl
 * original reads them in reverse and keeps the first value, so
 * /etc/mogilefs/mogilefs.conf silently beats --conf; we apply the documented
 * order instead (--conf, $MOGUTILSCONF, ~/.mogilefs.conf, /etc).
 */
export function utilsConfFiles(conf?: string): (string | undefined)[] {
  return [conf, process.env.MOGUTILSCONF, path.join(process.env.HOME ?? os.homedir(), '.mogilefs.conf'), '/etc/mogilefs/mogilefs.conf']
}

/** `a,b:7002` → `['a:7001','b:7002']`. */
export function normalizeTrackers(v: string | undefined): string[] {
  if (!v) return []
  return v
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => (/:\d+$/.test(t) ? t : `${t}:7001`))
}

export interface UtilsConfig {
  trackers: string[]
  domain?: string
  values: Record<string, string | boolean>
}

/**
 * Parse a MogileFS::Utils tool's argv: its own `specs` plus `help`,
 * `trackers`, `domain`, `conf`. Returns undefined when the usage text should be
 * printed (no arguments, --help, or an option error — written to stderr).
 */
export function utilsOptions(argv: string[], specs: OptSpec[]): UtilsConfig | undefined {
  if (!argv.length) return undefined
  let parsed
  try {
    parsed = getopts(argv, [...specs, 'help', 'trackers=s', 'domain=s', 'conf=s'])
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    return undefined
  }
  const file = readConfFiles(utilsConfFiles(parsed.values.conf as string | undefined))
  const values: Record<string, string | boolean> = { ...file, ...parsed.values }
  if (values.help) return undefined
  // "default" means the default class, which the protocol spells as no class.
  for (const k of Object.keys(values)) if (/class/.test(k) && values[k] === 'default') values[k] = ''
  return { trackers: normalizeTrackers(values.trackers as string | undefined), domain: values.domain as string | undefined, values }
}

/** The usage line MogileFS::Utils prints (to stdout, exit 0). */
export function printUsage(tool: string, usage: string): number {
  process.stdout.write(`Usage: ${tool} ${usage}\n`)
  return 0
}
