/**
 * MogileFS::Admin equivalent: hosts, devices, domains, classes, settings,
 * fsck, rebalance, list_fids. Methods return the tracker's decoded args or
 * small typed views of them; tracker errors are thrown as MogileError.
 */
import { Backend, type Args, type BackendOptions } from './backend.js'

export interface HostRow {
  hostid: number
  hostname: string
  hostip: string
  http_port: string
  http_get_port: string
  status: string
  altip: string
  altmask: string
}

export interface DeviceRow {
  devid: number
  hostid: number
  status: string
  weight: string
  mb_total: string
  mb_used: string
  mb_free: string
  mb_asof: string
  observed_state: string
  utilization: string
  reject_bad_md5: string
}

export interface ClassRow {
  name: string
  mindevcount: number
  replpolicy: string
  hashtype: string
}

/** Rows `<prefix><i>_<field>` for i in 1..count → objects. */
function rows(r: Record<string, string>, count: number, prefix: string): Record<string, string>[] {
  const out: Record<string, string>[] = []
  for (let i = 1; i <= count; i++) {
    const row: Record<string, string> = {}
    const p = `${prefix}${i}_`
    for (const [k, v] of Object.entries(r)) if (k.startsWith(p)) row[k.slice(p.length)] = v
    out.push(row)
  }
  return out
}

export class MogileFSAdmin {
  readonly backend: Backend

  constructor(o: BackendOptions) {
    this.backend = new Backend(o)
  }

  close(): void {
    this.backend.close()
  }

  /** Raw command (for the less common admin calls). */
  raw(cmd: string, args: Args = {}): Promise<Record<string, string>> {
    return this.backend.request(cmd, args)
  }

  async getHosts(hostid?: number): Promise<HostRow[]> {
    const r = await this.raw('get_hosts', { hostid })
    return rows(r, Number(r.hosts ?? 0), 'host').map((h) => ({ ...(h as unknown as HostRow), hostid: Number(h.hostid) }))
  }

  async getDevices(devid?: number): Promise<DeviceRow[]> {
    const r = await this.raw('get_devices', { devid })
    return rows(r, Number(r.devices ?? 0), 'dev').map((d) => ({ ...(d as unknown as DeviceRow), devid: Number(d.devid), hostid: Number(d.hostid) }))
  }

  /** domain → class name → class row (includes the synthetic `default`). */
  async getDomains(): Promise<Map<string, Map<string, ClassRow>>> {
    const r = await this.raw('get_domains', {})
    const out = new Map<string, Map<string, ClassRow>>()
    for (let i = 1; i <= Number(r.domains ?? 0); i++) {
      const classes = new Map<string, ClassRow>()
      for (let j = 1; j <= Number(r[`domain${i}classes`] ?? 0); j++) {
        const p = `domain${i}class${j}`
        classes.set(r[`${p}name`], {
          name: r[`${p}name`],
          mindevcount: Number(r[`${p}mindevcount`]),
          replpolicy: r[`${p}replpolicy`] ?? '',
          hashtype: r[`${p}hashtype`] ?? 'NONE',
        })
      }
      out.set(r[`domain${i}`], classes)
    }
    return out
  }

  /** list_fids: `from` exclusive, `count` (tracker caps at 500). */
  async listFids(from: number, count: number): Promise<Record<string, Record<string, string>>> {
    const r = await this.raw('list_fids', { from, to: count })
    const out: Record<string, Record<string, string>> = {}
    for (const row of rows(r, Number(r.fid_count ?? 0), 'fid_')) out[row.fid] = row
    return out
  }

  async serverSettings(): Promise<Map<string, string>> {
    const r = await this.raw('server_settings', {})
    const m = new Map<string, string>()
    for (let i = 1; i <= Number(r.key_count ?? 0); i++) m.set(r[`key_${i}`], r[`value_${i}`] ?? '')
    return m
  }
}
