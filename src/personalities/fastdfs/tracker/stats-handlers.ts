/**
 * The cluster overview commands used by fdfs_tracker_stat (96), fdfs_storage_stat
 * (97) and fdfs_volumn_stat (98), V6.16.1 layouts:
 *
 *   96 req: filter_by 1, is_active 1, is_leader 1 → count 1 + N x 90
 *          (host "ip:port" 52, is_leader 1, is_active 1, conn 3 x 4, version 8, up_time 8, last_heartbeat 8)
 *   97 req: filter_by 1, op_type 1 ('=' / '!'), status 1, is_trunk_server 1 → use_storage_id 1,
 *          use_trunk_file 1, count 4 + N x 106 (id 16, host 52, is_trunk_server 1, status 1, conn 12,
 *          version 8, up_time 8, last_heartbeat 8)
 *   98 req: filter_by 1, is_disk_available 1, is_trunk_available 1, is_space_available 1 →
 *          use_trunk_file 1, count 4 + N x 59 (group 17, total/free/reserved/avail/trunk_free MB 5 x 8,
 *          is_disk_available 1, is_trunk_available 1)
 *
 * Several trackers: see leader.ts. Called by server.ts's dispatcher.
 */
import { ERRNO, FDFS_VERSION } from '../protocol/constants.js'
import { putFixed } from '../protocol/header.js'
import { fail, ok, selfIp, type Conn, type Reply, type TrackerCtx } from './context.js'
import { aboveReserved, reservedMb } from './policies.js'

const HOST_SIZE = 52

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** 96: the tracker cluster: ourselves (with our counters) plus the other trackers we know (leader.ts), filtered. */
export function trackerClusterStat(ctx: TrackerCtx, conn: Conn, body: Buffer): Reply {
  if (body.length !== 3) return fail(ERRNO.EINVAL)
  const [filterBy, isActive, isLeader] = body
  const all = ctx.trackers?.all() ?? [{ ...ctx.self, reachable: true, leader: true }]
  const recs: Buffer[] = []
  all.forEach((t, i) => {
    const leader = t.leader ? 1 : 0
    const active = t.reachable ? 1 : 0
    if ((filterBy & 2 && isLeader !== leader) || (filterBy & 1 && isActive !== active)) return
    const r = Buffer.alloc(90)
    putFixed(r, 0, HOST_SIZE, i === 0 ? hostPort(selfIp(ctx, conn), ctx.self.port) : hostPort(t.ip, t.port))
    r[52] = leader
    r[53] = active
    if (i === 0) {
      const c = ctx.connections
      r.writeInt32BE(c.alloc, 54)
      r.writeInt32BE(c.current, 58)
      r.writeInt32BE(c.max, 62)
      putFixed(r, 66, 8, FDFS_VERSION)
      r.writeBigInt64BE(BigInt(ctx.upTime), 74)
      r.writeBigInt64BE(BigInt(Math.floor(Date.now() / 1000)), 82)
    }
    recs.push(r)
  })
  return ok(Buffer.concat([Buffer.from([recs.length]), ...recs]))
}

/** 97: every storage, optionally filtered by status. */
export function storageClusterStat(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== 4) return fail(ERRNO.EINVAL)
  const [filterBy, opType, status] = body
  const recs: Buffer[] = []
  for (const g of ctx.state.sortedGroups()) {
    for (const s of g.sorted()) {
      if (filterBy & 2) {
        if (opType === 0x3d /* = */ ? s.status !== status : opType === 0x21 /* ! */ ? s.status === status : true) continue
      }
      const r = Buffer.alloc(106)
      putFixed(r, 0, 16, s.id)
      putFixed(r, 16, HOST_SIZE, hostPort(s.ip, s.port))
      r[68] = 0
      r[69] = s.status
      r.writeInt32BE(s.stats.allocCount, 70)
      r.writeInt32BE(s.stats.currentCount, 74)
      r.writeInt32BE(s.stats.maxCount, 78)
      putFixed(r, 82, 8, s.version)
      r.writeBigInt64BE(BigInt(s.upTime), 90)
      r.writeBigInt64BE(BigInt(s.stats.longs[41] ?? 0), 98)
      recs.push(r)
    }
  }
  const head = Buffer.alloc(6)
  head[0] = ctx.conf.useStorageId ? 1 : 0
  head[1] = 0
  head.writeInt32BE(recs.length, 2)
  return ok(Buffer.concat([head, ...recs]))
}

/** 98: space per group. */
export function volumnStat(ctx: TrackerCtx, body: Buffer): Reply {
  if (body.length !== 4) return fail(ERRNO.EINVAL)
  const [filterBy, wantDisk, , wantSpace] = body
  const recs: Buffer[] = []
  for (const g of ctx.state.sortedGroups()) {
    const { totalMb, freeMb } = g.space()
    const disk = aboveReserved(ctx.conf, totalMb, freeMb) ? 1 : 0
    if (filterBy & 1 && disk !== wantDisk) continue
    if (filterBy & 4 && disk !== wantSpace) continue
    const res = reservedMb(ctx.conf, totalMb)
    const r = Buffer.alloc(59)
    putFixed(r, 0, 17, g.name)
    r.writeBigInt64BE(BigInt(totalMb), 17)
    r.writeBigInt64BE(BigInt(freeMb), 25)
    r.writeBigInt64BE(BigInt(res), 33)
    r.writeBigInt64BE(BigInt(disk ? Math.max(0, freeMb - res) : 0), 41)
    r.writeBigInt64BE(0n, 49)
    r[57] = disk
    r[58] = 0
    recs.push(r)
  }
  const head = Buffer.alloc(5)
  head.writeInt32BE(recs.length, 1)
  return ok(Buffer.concat([head, ...recs]))
}
