/**
 * In-memory view of the namespace (domains, classes, hosts, devices, server
 * settings) plus what the monitor observed (device writeable/readable/
 * unreachable, host reachable/unreachable, utilisation). Query commands read
 * this instead of the DB; it is reloaded every few seconds (another tracker may
 * have changed the DB) and right after every admin change made here.
 */
import type { MetadataStore } from '../db/store.js'
import type { ClassRow, DeviceRow, DomainRow, HostRow } from '../db/types.js'

export type DevObserved = 'writeable' | 'readable' | 'unreachable'
export type HostObserved = 'reachable' | 'unreachable'

export class ClusterState {
  domains = new Map<string, DomainRow>()
  domainsById = new Map<number, DomainRow>()
  /** dmid → classname(lower-cased) → row; `default` is synthesised when not stored. */
  classes = new Map<number, Map<string, ClassRow>>()
  hosts = new Map<number, HostRow>()
  devices = new Map<number, DeviceRow>()
  settings: Record<string, string> = {}
  devObserved = new Map<number, DevObserved>()
  hostObserved = new Map<number, HostObserved>()
  utilization = new Map<number, number>()
  rejectBadMd5 = new Map<number, boolean>()
  /**
   * Usage the monitor last saw per device. Overlaid on the DB rows at every
   * refresh: the DB copy is written at most every 15 s (or may not be written
   * yet for a new device), and a stale or empty copy would make a healthy
   * device look full to create_open.
   */
  observedUsage = new Map<number, { mbTotal: number; mbUsed: number }>()
  loadedAt = 0

  constructor(
    private readonly store: MetadataStore,
    private readonly defaultMindevcount: number,
  ) {}

  /** Reload everything from the DB (cheap: a handful of small tables). */
  async refresh(): Promise<void> {
    const [domains, classes, hosts, devices, settings] = await Promise.all([
      this.store.domains(),
      this.store.classes(),
      this.store.hosts(),
      this.store.devices(),
      this.store.settings(),
    ])
    const d = new Map<string, DomainRow>()
    const dById = new Map<number, DomainRow>()
    for (const r of domains) {
      const row = { dmid: Number(r.dmid), namespace: r.namespace }
      d.set(row.namespace.toLowerCase(), row)
      dById.set(row.dmid, row)
    }
    const c = new Map<number, Map<string, ClassRow>>()
    for (const r of classes) {
      const m = c.get(Number(r.dmid)) ?? new Map<string, ClassRow>()
      m.set(r.classname.toLowerCase(), { ...r, dmid: Number(r.dmid), classid: Number(r.classid), mindevcount: Number(r.mindevcount), hashtype: r.hashtype === null ? null : Number(r.hashtype) })
      c.set(Number(r.dmid), m)
    }
    this.domains = d
    this.domainsById = dById
    this.classes = c
    this.hosts = new Map(hosts.map((h) => [Number(h.hostid), { ...h, hostid: Number(h.hostid), http_port: Number(h.http_port ?? 7500), http_get_port: h.http_get_port ? Number(h.http_get_port) : null }]))
    this.devices = new Map(
      devices.map((x) => {
        const devid = Number(x.devid)
        const seen = this.observedUsage.get(devid)
        const row = { ...x, devid, hostid: Number(x.hostid), weight: Number(x.weight ?? 100) }
        if (seen) {
          row.mb_total = seen.mbTotal
          row.mb_used = seen.mbUsed
        }
        return [devid, row]
      }),
    )
    this.settings = settings
    this.loadedAt = Date.now()
  }

  domain(name: string): DomainRow | undefined {
    return this.domains.get(name.toLowerCase())
  }

  /** Every class of a domain, including the synthetic `default` (classid 0). */
  classList(dmid: number): ClassRow[] {
    const m = this.classes.get(dmid)
    const list = m ? [...m.values()] : []
    if (!list.some((c) => c.classid === 0)) list.unshift(this.defaultClass(dmid))
    return list.sort((a, b) => a.classid - b.classid)
  }

  defaultClass(dmid: number): ClassRow {
    return { dmid, classid: 0, classname: 'default', mindevcount: this.defaultMindevcount, hashtype: null, replpolicy: null }
  }

  classByName(dmid: number, name: string): ClassRow | undefined {
    const c = this.classes.get(dmid)?.get(name.toLowerCase())
    if (c) return c
    return name.toLowerCase() === 'default' ? this.defaultClass(dmid) : undefined
  }

  classById(dmid: number, classid: number): ClassRow {
    for (const c of this.classes.get(dmid)?.values() ?? []) if (c.classid === classid) return c
    return this.defaultClass(dmid)
  }

  hostByName(name: string): HostRow | undefined {
    for (const h of this.hosts.values()) if (h.hostname.toLowerCase() === name.toLowerCase()) return h
    return undefined
  }

  mbFree(d: DeviceRow): number {
    return d.mb_total !== null && d.mb_used !== null ? Number(d.mb_total) - Number(d.mb_used) : 0
  }

  /** May receive new files: alive device on an alive host, observed writeable, with free space. */
  canWrite(d: DeviceRow, minFreeMb: number): boolean {
    const h = this.hosts.get(d.hostid)
    return d.status === 'alive' && h?.status === 'alive' && this.devObserved.get(d.devid) === 'writeable' && this.hostObserved.get(d.hostid) !== 'unreachable' && this.mbFree(d) >= minFreeMb
  }

  /** Admin says this device takes new files (alive device on an alive host), whatever the monitor saw. */
  shouldHold(d: DeviceRow): boolean {
    return d.status === 'alive' && this.hosts.get(d.hostid)?.status === 'alive'
  }

  /** May serve reads: device alive/readonly/drain, host alive/readonly, not observed unreachable. */
  canRead(d: DeviceRow): boolean {
    const h = this.hosts.get(d.hostid)
    if (!h || (h.status !== 'alive' && h.status !== 'readonly')) return false
    if (d.status !== 'alive' && d.status !== 'readonly' && d.status !== 'drain') return false
    return this.devObserved.get(d.devid) !== 'unreachable' && this.hostObserved.get(d.hostid) !== 'unreachable'
  }

  /** A boolean server setting (0/f/off/n vs 1/t/on/y). */
  flag(key: string): boolean {
    return /^(1|t|on|y)/i.test(this.settings[key] ?? '')
  }
}
