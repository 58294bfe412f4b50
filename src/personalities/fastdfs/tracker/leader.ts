/**
 * Several trackers agreeing on one leader, by a simple deterministic rule
 * instead of FastDFS's election protocol (58/65-68):
 *
 *   leader = the lowest `ip:port` (IPv4 compared numerically, then port)
 *            among this tracker and the other trackers it can reach.
 *
 * A tracker learns the other trackers from the `ip:port` lines every storage
 * sends in STORAGE_JOIN (the storage's tracker_server list, as the real
 * tracker does) and probes each with ACTIVE_TEST every LEADER_PROBE_MS. Two
 * trackers that can reach each other therefore name the same leader in
 * GET_LEADER (95) and in the change-flags leader brief; when the leader dies,
 * the others agree on the next lowest within one probe round. The leader is
 * the only tracker that assigns sync sources (SYNC_DEST_REQ 87); the others
 * answer EBUSY and the storage asks again (storages report to all trackers).
 * Created by server.ts.
 */
import net from 'node:net'
import os from 'node:os'
import { logger } from '../../../log.js'
import { COMMON_CMD } from '../protocol/constants.js'
import { encodeHeader } from '../protocol/header.js'

const log = logger('fastdfs.tracker.leader')

/** Why 2 s: a dead leader is replaced within a few seconds, and probing costs one tiny request per peer per round. */
const LEADER_PROBE_MS = 2000
/** Why 1.5 s: trackers on a LAN answer ACTIVE_TEST in microseconds; slower counts as unreachable for this round. */
const PROBE_TIMEOUT_MS = 1500

export interface HostPort {
  ip: string
  port: number
}

function ipKey(ip: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip)
  return m ? m.slice(1).map((x) => x.padStart(3, '0')).join('.') : `~${ip}`
}

/** Total order used by the rule: numeric IPv4 first, then port. */
export function compareAddr(a: HostPort, b: HostPort): number {
  const ka = ipKey(a.ip)
  const kb = ipKey(b.ip)
  return ka < kb ? -1 : ka > kb ? 1 : a.port - b.port
}

function localIps(): Set<string> {
  const out = new Set<string>(['127.0.0.1', '0.0.0.0', 'localhost'])
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(a.address)
  return out
}

/** The other trackers this one knows, their reachability, and the leader rule. */
export class TrackerPeers {
  private peers = new Map<string, HostPort & { reachable: boolean }>()
  private timer?: NodeJS.Timeout
  private lastLeader = ''
  private readonly mine: Set<string>

  constructor(private readonly self: () => HostPort) {
    this.mine = localIps()
  }

  private isSelf(a: HostPort): boolean {
    const s = this.self()
    if (a.port !== s.port) return false
    return a.ip === s.ip || (this.mine.has(a.ip) && (s.ip === '127.0.0.1' || s.ip === '0.0.0.0'))
  }

  /** Learn tracker addresses from a storage's join lines (`ip:port`, `[v6]:port`). */
  learn(lines: readonly string[]): void {
    for (const line of lines) {
      const m = /^\[([^\]]+)\]:(\d+)$/.exec(line) ?? /^([^:]+):(\d+)$/.exec(line)
      if (!m) continue
      const a = { ip: m[1], port: Number(m[2]) }
      const key = `${a.ip}:${a.port}`
      if (this.isSelf(a) || this.peers.has(key)) continue
      // Optimistic until the first probe: a just-learned lower tracker is assumed alive.
      this.peers.set(key, { ...a, reachable: true })
      log.info({ tracker: key }, 'learned another tracker')
      void this.probe(key)
    }
  }

  /** The leader by the rule above (ourselves when we know no reachable lower tracker). */
  leader(): HostPort {
    let best = this.self()
    for (const p of this.peers.values()) if (p.reachable && compareAddr(p, best) < 0) best = { ip: p.ip, port: p.port }
    return best
  }

  isLeader(): boolean {
    const l = this.leader()
    const s = this.self()
    return l.ip === s.ip && l.port === s.port
  }

  /** Known trackers (ourselves included) with reachability, for the cluster stat reply. */
  all(): Array<HostPort & { reachable: boolean; leader: boolean }> {
    const l = this.leader()
    const same = (a: HostPort) => a.ip === l.ip && a.port === l.port
    const s = this.self()
    return [{ ...s, reachable: true, leader: same(s) }, ...[...this.peers.values()].map((p) => ({ ip: p.ip, port: p.port, reachable: p.reachable, leader: same(p) }))]
  }

  start(): void {
    this.timer = setInterval(() => {
      for (const k of this.peers.keys()) void this.probe(k)
    }, LEADER_PROBE_MS)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  private async probe(key: string): Promise<void> {
    const p = this.peers.get(key)
    if (!p) return
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: p.ip, port: p.port, noDelay: true })
      const done = (v: boolean) => {
        clearTimeout(t)
        sock.destroy()
        resolve(v)
      }
      const t = setTimeout(() => done(false), PROBE_TIMEOUT_MS)
      let got = Buffer.alloc(0)
      sock.on('connect', () => sock.write(encodeHeader(0, COMMON_CMD.ACTIVE_TEST)))
      sock.on('data', (d) => {
        got = Buffer.concat([got, d])
        if (got.length >= 10) done(got[9] === 0)
      })
      sock.on('error', () => done(false))
      sock.on('close', () => done(false))
    })
    if (ok !== p.reachable) log.info({ tracker: key, reachable: ok }, 'tracker reachability changed')
    p.reachable = ok
    const l = this.leader()
    const lk = `${l.ip}:${l.port}`
    if (lk !== this.lastLeader) {
      log.info({ leader: lk }, 'tracker leader')
      this.lastLeader = lk
    }
  }
}
