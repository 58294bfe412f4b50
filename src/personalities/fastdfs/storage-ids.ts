/**
 * storage_ids.conf: the table that maps storage ids to group and address when
 * `use_storage_id = true`. Line format (V6.16.1):
 *
 *   <id> <group> <ip|[ipv6]>[:port] [rw=both|read|readonly|write|writeonly|none|all]
 *
 * `#` starts a comment line, blank lines are skipped, fields are separated by
 * spaces or tabs. The port is optional (absent = any port on that host). The
 * `rw=` option (V6.13+) restricts what the tracker routes to that storage.
 *
 * Used by the tracker (identity and rw_mode of joining storages, reply to
 * FETCH_STORAGE_IDS 69) and by the storage daemon (its own id, peers' ids).
 */
import { readFileSync } from 'node:fs'
import { ConfError } from '../../config/conf-file.js'

/** Read/write permission bits as the C code stores them (R_OK=4, W_OK=2). */
export const RW_MODE = { NONE: 0, READ: 4, WRITE: 2, BOTH: 6 } as const
export type RwMode = (typeof RW_MODE)[keyof typeof RW_MODE]

export interface StorageIdEntry {
  /** Storage id (numeric text in practice, < 16 bytes). */
  id: string
  group: string
  /** Host/IP as written (IPv6 without brackets). */
  ip: string
  /** Port, or undefined when the line has none (matches any port). */
  port?: number
  rwMode: RwMode
  /** The line exactly as the tracker sends it back in FETCH_STORAGE_IDS. */
  line: string
}

const RW_VALUES: Record<string, RwMode> = {
  none: RW_MODE.NONE,
  read: RW_MODE.READ,
  readonly: RW_MODE.READ,
  write: RW_MODE.WRITE,
  writeonly: RW_MODE.WRITE,
  both: RW_MODE.BOTH,
  all: RW_MODE.BOTH,
}

/** Text form of an rw mode for storage_ids lines and fdfs_monitor captions. */
export function rwModeName(m: number): string {
  return m === RW_MODE.NONE ? 'none' : m === RW_MODE.READ ? 'read' : m === RW_MODE.WRITE ? 'write' : 'both'
}

/**
 * Parse storage_ids.conf text. Throws ConfError naming `file:line` for a bad
 * line, a duplicate id, or an id used by two different addresses.
 */
export function parseStorageIds(text: string, file = '<storage_ids>'): StorageIdEntry[] {
  const out: StorageIdEntry[] = []
  const seen = new Set<string>()
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim()
    if (!raw || raw.startsWith('#')) continue
    const where = `${file}:${i + 1}`
    const parts = raw.split(/\s+/)
    if (parts.length < 3 || parts.length > 4) throw new ConfError(`${where}: expected "<id> <group> <ip>[:port] [rw=mode]", got ${JSON.stringify(raw)}`)
    const [id, group, addr, opt] = parts
    if (Buffer.byteLength(id) >= 16 || !/^[A-Za-z0-9_.-]+$/.test(id)) throw new ConfError(`${where}: invalid storage id ${JSON.stringify(id)}`)
    if (Buffer.byteLength(group) > 16 || !/^[A-Za-z0-9_-]+$/.test(group)) throw new ConfError(`${where}: invalid group name ${JSON.stringify(group)}`)
    if (seen.has(id)) throw new ConfError(`${where}: duplicate storage id ${id}`)
    seen.add(id)
    const { ip, port } = parseAddr(addr, where)
    let rwMode: RwMode = RW_MODE.BOTH
    if (opt !== undefined) {
      const m = /^rw=(.+)$/i.exec(opt)
      const v = m ? RW_VALUES[m[1].toLowerCase()] : undefined
      if (v === undefined) throw new ConfError(`${where}: invalid option ${JSON.stringify(opt)} (expected rw=both|read|write|none)`)
      rwMode = v
    }
    out.push({ id, group, ip, port, rwMode, line: parts.join(' ') })
  }
  return out
}

function parseAddr(addr: string, where: string): { ip: string; port?: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]+)(?::(\d+))?$/.exec(addr)
  if (!m) throw new ConfError(`${where}: invalid address ${JSON.stringify(addr)}`)
  if (m[2] === undefined) return { ip: m[1] }
  const port = Number(m[2])
  if (!(port > 0 && port < 65536)) throw new ConfError(`${where}: invalid port in ${JSON.stringify(addr)}`)
  return { ip: m[1], port }
}

/** Load and parse a storage_ids.conf file; ConfError when unreadable or invalid. */
export function loadStorageIds(file: string): StorageIdEntry[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfError(`cannot read storage ids file ${file}: ${(e as Error).message}`)
  }
  return parseStorageIds(text, file)
}

/**
 * The entry for a storage at `ip:port` in `group` (an entry without a port
 * matches any port; one with a port wins over one without). Undefined when absent.
 */
export function findStorageIdByAddr(entries: StorageIdEntry[], ip: string, port: number, group?: string): StorageIdEntry | undefined {
  let loose: StorageIdEntry | undefined
  for (const e of entries) {
    if (e.ip !== ip || (group !== undefined && e.group !== group)) continue
    if (e.port === port) return e
    if (e.port === undefined && !loose) loose = e
  }
  return loose
}

/** The entry with this id, or undefined. */
export function findStorageId(entries: StorageIdEntry[], id: string): StorageIdEntry | undefined {
  return entries.find((e) => e.id === id)
}
