/**
 * Shared types and reply builders for the tracker's command handlers
 * (client-handlers.ts, storage-handlers.ts, dispatched by server.ts).
 */
import type { Socket } from 'node:net'
import { respHeader } from '../protocol/header.js'
import type { GroupNode, StorageNode, TrackerState } from './state.js'
import type { TrackerConf } from './tracker-conf.js'
import type { TrackerPeers } from './leader.js'
import type { Changelog } from './changelog.js'

/** Per-connection state. `storage` is set once STORAGE_JOIN succeeded on this connection. */
export interface Conn {
  sock: Socket
  /** Peer IP without the IPv4-mapped `::ffff:` prefix. */
  peerIp: string
  /** Our address on this connection (what the peer reached us at). */
  localIp: string
  storage?: StorageNode
  group?: GroupNode
}

/** Everything a handler needs; one per server. */
export interface TrackerCtx {
  conf: TrackerConf
  state: TrackerState
  /** Our own `ip:port` as announced by GET_LEADER. */
  self: { ip: string; port: number }
  /** Unix seconds the tracker started (96 reply). */
  upTime: number
  /** Client connection counters (96 reply). */
  connections: { alloc: number; current: number; max: number }
  /** The other trackers and the leader rule (leader.ts); absent = we are the only tracker. */
  trackers?: TrackerPeers
  /** Membership changes peers must act on (changelog.ts); absent = none kept (changelog requests answer empty). */
  changelog?: Changelog
}

/** The leader's `ip:port` as `conn`'s peer should know it (ourselves when alone or lowest). */
export function leaderOf(ctx: TrackerCtx, conn: Conn): { ip: string; port: number } {
  const l = ctx.trackers?.leader()
  if (!l || (l.ip === ctx.self.ip && l.port === ctx.self.port)) return { ip: selfIp(ctx, conn), port: ctx.self.port }
  return l
}

/** Our `ip` as this peer should know it: bind_addr when set, else the connection's local address. */
export function selfIp(ctx: TrackerCtx, conn: Conn): string {
  return ctx.conf.bindAddr && ctx.conf.bindAddr !== '0.0.0.0' ? ctx.conf.bindAddr : conn.localIp || ctx.self.ip
}

/** A reply: the bytes to send, or `null` to close the connection without replying. */
export type Reply = Buffer | null

/** Header + body in one buffer (one socket write). */
export function ok(body?: Buffer): Buffer {
  if (!body || body.length === 0) return respHeader(0, 0)
  const out = Buffer.allocUnsafe(10 + body.length)
  respHeader(body.length, 0).copy(out, 0)
  body.copy(out, 10)
  return out
}

/** An error reply: header only, status = errno (what the real tracker sends). */
export function fail(errno: number): Buffer {
  return respHeader(0, errno)
}

/** Strip `::ffff:` from IPv4-mapped addresses. */
export function plainIp(ip: string | undefined): string {
  if (!ip) return ''
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip
}

/**
 * Width of the IP field in query replies and monitor records: response_ip_addr_size,
 * where `auto` = 16 unless some storage has an IPv6 address (then 46).
 */
export function ipFieldSize(ctx: TrackerCtx): 16 | 46 {
  if (ctx.conf.responseIpAddrSize !== 'auto') return ctx.conf.responseIpAddrSize
  for (const g of ctx.state.groups.values()) for (const s of g.storages.values()) if (s.ip.includes(':')) return 46
  return 16
}

/** Group name from a 16-byte field (stops at the first NUL; garbage after it is ignored). */
export function groupField(b: Buffer, off = 0): string {
  const end = b.indexOf(0, off)
  const stop = end < 0 || end > off + 16 ? off + 16 : end
  return b.toString('latin1', off, stop)
}
