/**
 * Reader for the `key = value` conf files of FastDFS (tracker.conf, storage.conf,
 * client.conf, storage_ids.conf's siblings) and MogileFS (mogilefsd.conf,
 * mogstored.conf, ~/.mogilefs.conf).
 *
 * Rules (as the originals read them): `#` starts a comment line; `#include file`
 * pulls in another file relative to the including file's directory; keys may
 * repeat (`tracker_server`), `[section]` lines prefix later keys with
 * `section.`; whitespace around `=` is ignored. Unknown keys are kept and
 * ignored by the caller (they are valid FastDFS/MogileFS keys we do not use).
 * A bad value is a ConfError naming file, line and key.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { ReservedRule } from '../engine/disk/reserved.js'

export class ConfError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfError'
  }
}

export interface ConfEntry {
  value: string
  file: string
  line: number
}

const MAX_INCLUDE_DEPTH = 8

export class ConfFile {
  readonly entries = new Map<string, ConfEntry[]>()

  private constructor(readonly file: string) {}

  /** Parse `file` (relative paths resolve against the cwd). Throws ConfError when unreadable. */
  static load(file: string): ConfFile {
    const abs = path.resolve(file)
    const c = new ConfFile(abs)
    c.parseFile(abs, 0, '')
    return c
  }

  /** Parse conf text (for tests and embedded defaults). */
  static parse(text: string, file = '<inline>'): ConfFile {
    const c = new ConfFile(file)
    c.parseText(text, file, 0, '')
    return c
  }

  private parseFile(abs: string, depth: number, section: string): void {
    let text: string
    try {
      text = readFileSync(abs, 'utf8')
    } catch (e) {
      throw new ConfError(`cannot read conf file ${abs}: ${(e as Error).message}`)
    }
    this.parseText(text, abs, depth, section)
  }

  private parseText(text: string, file: string, depth: number, section: string): void {
    const lines = text.split(/\r?\n/)
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim()
      if (!line) continue
      if (line.startsWith('#include')) {
        const inc = line.slice('#include'.length).trim()
        if (depth >= MAX_INCLUDE_DEPTH) throw new ConfError(`${file}:${i + 1}: #include nested too deeply`)
        this.parseFile(path.resolve(path.dirname(file), inc), depth + 1, section)
        continue
      }
      if (line.startsWith('#') || line.startsWith(';')) continue
      if (line.startsWith('[') && line.endsWith(']')) {
        const s = line.slice(1, -1).trim()
        section = s && s !== 'global' ? s + '.' : ''
        continue
      }
      const eq = line.indexOf('=')
      if (eq <= 0) throw new ConfError(`${file}:${i + 1}: expected "key = value", got ${JSON.stringify(line)}`)
      const key = section + line.slice(0, eq).trim()
      const value = line.slice(eq + 1).trim()
      const list = this.entries.get(key) ?? []
      list.push({ value, file, line: i + 1 })
      this.entries.set(key, list)
    }
  }

  has(key: string): boolean {
    return this.entries.has(key)
  }

  /** Last value of `key` (later lines win), or `def`. */
  str(key: string, def: string): string
  str(key: string): string | undefined
  str(key: string, def?: string): string | undefined {
    const l = this.entries.get(key)
    return l ? l[l.length - 1].value : def
  }

  /** Every value of a repeatable key, in file order. */
  all(key: string): string[] {
    return (this.entries.get(key) ?? []).map((e) => e.value)
  }

  /** A required string; ConfError when missing or empty. */
  required(key: string): string {
    const v = this.str(key)
    if (v === undefined || v === '') throw new ConfError(`${this.file}: missing required key "${key}"`)
    return v
  }

  private where(key: string): string {
    const l = this.entries.get(key)
    const e = l?.[l.length - 1]
    return e ? `${e.file}:${e.line}: key "${key}"` : `${this.file}: key "${key}"`
  }

  int(key: string, def: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.str(key)
    if (v === undefined || v === '') return def
    if (!/^-?\d+$/.test(v)) throw new ConfError(`${this.where(key)}: expected an integer, got ${JSON.stringify(v)}`)
    const n = Number(v)
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
      throw new ConfError(`${this.where(key)}: ${n} out of range [${opts.min ?? '-inf'}, ${opts.max ?? 'inf'}]`)
    }
    return n
  }

  bool(key: string, def: boolean): boolean {
    const v = this.str(key)
    if (v === undefined || v === '') return def
    const l = v.toLowerCase()
    if (['true', 'yes', 'on', '1', 't', 'y'].includes(l)) return true
    if (['false', 'no', 'off', '0', 'f', 'n'].includes(l)) return false
    throw new ConfError(`${this.where(key)}: expected true/false, got ${JSON.stringify(v)}`)
  }

  /** A byte size like `256KB`, `1G`, `512` (bytes). */
  size(key: string, def: number): number {
    const v = this.str(key)
    if (v === undefined || v === '') return def
    const n = parseSize(v)
    if (n === undefined) throw new ConfError(`${this.where(key)}: expected a size like 256KB or 1G, got ${JSON.stringify(v)}`)
    return n
  }

  /** A duration in seconds; accepts a plain number or a suffix s/m/h/d. */
  seconds(key: string, def: number): number {
    const v = this.str(key)
    if (v === undefined || v === '') return def
    const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/i.exec(v)
    if (!m) throw new ConfError(`${this.where(key)}: expected seconds, got ${JSON.stringify(v)}`)
    const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2].toLowerCase() as '' | 's' | 'm' | 'h' | 'd']
    return Number(m[1]) * mult
  }

  /** FastDFS reserved_storage_space: `20%` or an absolute size like `10G`. */
  reserved(key: string, def: string): ReservedRule {
    const v = this.str(key, def)
    const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(v)
    if (pct) {
      const r = Number(pct[1]) / 100
      if (r < 0 || r > 1) throw new ConfError(`${this.where(key)}: percentage out of range: ${v}`)
      return { ratio: r }
    }
    const n = parseSize(v)
    if (n === undefined) throw new ConfError(`${this.where(key)}: expected a size or percentage, got ${JSON.stringify(v)}`)
    return { bytes: n }
  }

  /** One of the allowed values. */
  oneOf<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const v = this.str(key)
    if (v === undefined || v === '') return def
    if (!allowed.includes(v as T)) throw new ConfError(`${this.where(key)}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`)
    return v as T
  }

  /** Resolve a path value relative to the conf file's directory. */
  path(key: string, def?: string): string | undefined {
    const v = this.str(key) ?? def
    if (v === undefined || v === '') return undefined
    return path.resolve(path.dirname(this.file === '<inline>' ? '.' : this.file), v)
  }

  /** Throw a ConfError located at `key`. */
  fail(key: string, msg: string): never {
    throw new ConfError(`${this.where(key)}: ${msg}`)
  }
}

/** `256KB` → 262144; `1G`/`1GB` → 2^30; plain digits are bytes. */
export function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)$/i.exec(v.trim())
  if (!m) return undefined
  const unit = m[2].toLowerCase()
  const pow = unit ? 'kmgtp'.indexOf(unit) + 1 : 0
  return Math.floor(Number(m[1]) * 1024 ** pow)
}

/** `host:port` with a default port; IPv6 in brackets allowed. */
export function parseHostPort(v: string, defPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v) ?? /^([^:]+)(?::(\d+))?$/.exec(v)
  if (!m) throw new ConfError(`bad address ${JSON.stringify(v)}`)
  const port = m[2] ? Number(m[2]) : defPort
  if (!(port > 0 && port < 65536)) throw new ConfError(`bad port in ${JSON.stringify(v)}`)
  return { host: m[1], port }
}
