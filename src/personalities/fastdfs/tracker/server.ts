/**
 * fdfs_trackerd's network side: a TcpServer whose connections run a
 * read-header / read-body / dispatch / reply loop, plus a timer that marks
 * silent storages OFFLINE. State is loaded from and saved to
 * `<base_path>/data/` (persist.ts).
 *
 * Bad input never crashes the server: a negative or oversized pkg_len closes
 * that connection (as the real tracker does), unknown commands get EINVAL,
 * truncated bodies end the connection, storage-only commands on a connection
 * that did not JOIN get EACCES.
 *
 * Started by src/cli/fdfs-trackerd.ts and by tests (startTracker).
 */
import { storageDetail, syncProgress } from './detail-handler.js'
import { TrackerPeers } from './leader.js'
import type { AddressInfo, Socket } from 'node:net'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { TcpServer } from '../../../server/tcp-server.js'
import { serveFrames } from '../../../server/frame-loop.js'
import { logger } from '../../../log.js'
import { COMMON_CMD, ERRNO, HEADER_SIZE, MAX_CONTROL_BODY, STORAGE_STATUS, TRACKER_CMD as T } from '../protocol/constants.js'
import { fail, plainIp, type Conn, type Reply, type TrackerCtx } from './context.js'
import * as C from './client-handlers.js'
import * as St from './storage-handlers.js'
import * as Sy from './sync-handlers.js'
import * as Stat from './stats-handlers.js'
import { Changelog } from './changelog.js'
import { loadState, StateSaver } from './persist.js'
import type { StorageNode, TrackerState } from './state.js'
import type { TrackerConf } from './tracker-conf.js'
import { countRequest } from '../../../server/process-metrics.js'

const log = logger('fastdfs.tracker.server')

/** Commands that need a joined connection (TRACKER_CHECK_LOGINED upstream). */
const NEEDS_JOIN = new Set<number>([
  T.STORAGE_BEAT, T.STORAGE_SYNC_REPORT, T.STORAGE_REPORT_DISK_USAGE, T.STORAGE_REPLICA_CHG,
  T.STORAGE_CHANGE_STATUS, T.STORAGE_SYNC_DEST_REQ, T.STORAGE_SYNC_NOTIFY, T.STORAGE_SYNC_DEST_QUERY,
  T.TANDEM_SYNC_PROGRESS,
])

/** Why 1 s: offline detection granularity; cheap (walks a few dozen storages). */
const CHECK_ACTIVE_MS = 1000

/** A running tracker: listener, dispatcher, offline checker and state saver. */
export class TrackerServer {
  readonly state: TrackerState
  private readonly saver: StateSaver
  private readonly tcp: TcpServer
  private readonly ctx: TrackerCtx
  private timer?: NodeJS.Timeout
  /** The connection that currently owns each joined storage (a re-join replaces it). */
  private readonly owner = new Map<StorageNode, Conn>()

  constructor(readonly conf: TrackerConf) {
    mkdirSync(path.join(conf.basePath, 'data'), { recursive: true })
    mkdirSync(path.join(conf.basePath, 'logs'), { recursive: true })
    this.state = loadState(conf.basePath)
    this.saver = new StateSaver(this.state, conf.basePath)
    this.ctx = { conf, state: this.state, self: { ip: conf.bindAddr || '127.0.0.1', port: conf.port }, upTime: Math.floor(Date.now() / 1000), connections: { alloc: 0, current: 0, max: 0 } }
    this.ctx.trackers = new TrackerPeers(() => this.ctx.self)
    this.ctx.changelog = new Changelog(conf.basePath)
    this.tcp = new TcpServer({ host: conf.bindAddr || '0.0.0.0', port: conf.port, name: 'fdfs_trackerd', onConnection: (s) => this.serve(s) })
  }

  /** Start listening and the offline checker; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    const a = await this.tcp.listen()
    this.ctx.self.port = a.port
    if (!this.conf.bindAddr || this.conf.bindAddr === '0.0.0.0') this.ctx.self.ip = '127.0.0.1'
    this.timer = setInterval(() => this.state.checkActive(Date.now(), this.conf.checkActiveInterval), CHECK_ACTIVE_MS)
    this.timer.unref()
    this.ctx.trackers?.start()
    log.info({ host: a.address, port: a.port, groups: this.state.groups.size }, 'fdfs_trackerd listening')
    return a
  }

  /** Stop accepting, finish in-flight requests, save the state. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.ctx.trackers?.stop()
    await this.tcp.close()
    await this.saver.flush()
  }

  private async serve(sock: Socket): Promise<void> {
    const conn: Conn = { sock, peerIp: plainIp(sock.remoteAddress), localIp: plainIp(sock.localAddress) }
    const cc = this.ctx.connections
    cc.current++
    cc.alloc++
    if (cc.current > cc.max) cc.max = cc.current
    try {
      // Every tracker command is answered from memory, so frames are handled where they land
      // (frame-loop.ts): no promise per request.
      await serveFrames(sock, {
        headerSize: HEADER_SIZE,
        maxBody: MAX_CONTROL_BODY,
        bodyLength: (b, off) => (b.readUInt32BE(off) === 0 ? b.readUInt32BE(off + 4) : -1),
        onBadLength: (h) => log.warn({ peer: conn.peerIp, cmd: h[8], len: h.readBigInt64BE(0).toString() }, 'bad package length, closing'),
        onFrame: (h, body) => this.request(conn, h[8], body),
      })
    } finally {
      cc.current--
      const s = conn.storage
      if (s && this.owner.get(s) === conn) {
        this.owner.delete(s)
        s.connected = false
        if (s.status === STORAGE_STATUS.ACTIVE || s.status === STORAGE_STATUS.ONLINE) {
          this.state.setStatus(s, STORAGE_STATUS.OFFLINE, 'storage connection closed')
        }
      }
    }
  }

  /** One request: its reply, or null to close the connection (QUIT, or a handler's verdict). */
  private request(conn: Conn, cmd: number, body: Buffer): Buffer | null {
    if (cmd === COMMON_CMD.QUIT) return null
    let reply: Reply
    try {
      reply = this.dispatch(conn, cmd, body)
    } catch (e) {
      log.error({ err: e, peer: conn.peerIp, cmd }, 'handler failed')
      reply = fail(ERRNO.EIO)
    }
    countRequest('fastdfs-tracker', cmd, reply !== null && reply[9] === 0)
    if (reply !== null && cmd === T.STORAGE_JOIN && conn.storage) this.owner.set(conn.storage, conn)
    return reply
  }

  /** Route one request to its handler. */
  private dispatch(conn: Conn, cmd: number, body: Buffer): Reply {
    const ctx = this.ctx
    if (NEEDS_JOIN.has(cmd) && !conn.storage) return fail(ERRNO.EACCES)
    switch (cmd) {
      case COMMON_CMD.ACTIVE_TEST:
        return body.length ? fail(ERRNO.EINVAL) : fail(0)
      case T.QUERY_STORE_WITHOUT_GROUP_ONE:
        return C.queryStore(ctx, body, false, false)
      case T.QUERY_STORE_WITH_GROUP_ONE:
        return C.queryStore(ctx, body, true, false)
      case T.QUERY_STORE_WITHOUT_GROUP_ALL:
        return C.queryStore(ctx, body, false, true)
      case T.QUERY_STORE_WITH_GROUP_ALL:
        return C.queryStore(ctx, body, true, true)
      case T.QUERY_FETCH_ONE:
        return C.queryFetchUpdate(ctx, body, 'fetch')
      case T.QUERY_UPDATE:
        return C.queryFetchUpdate(ctx, body, 'update')
      case T.QUERY_FETCH_ALL:
        return C.queryFetchUpdate(ctx, body, 'all')
      case T.SERVER_LIST_ONE_GROUP:
        return C.listOneGroup(ctx, body)
      case T.SERVER_LIST_ALL_GROUPS:
        return C.listAllGroups(ctx, body)
      case T.SERVER_LIST_STORAGE:
        return C.listStorages(ctx, body)
      case T.SERVER_DELETE_STORAGE:
        return C.deleteStorage(ctx, body)
      case T.SERVER_DELETE_GROUP:
        return C.deleteGroup(ctx, body)
      case T.SERVER_GET_LEADER:
        return C.getLeader(ctx, conn, body)
      case T.STORAGE_GET_MY_IP:
        return St.getMyIp(ctx, conn, body)
      case T.STORAGE_PARAMETER_REQ:
        return St.parameterReq(ctx, body)
      case T.STORAGE_CHANGELOG_REQ:
        return St.changelogReq(ctx, conn, body)
      case T.STORAGE_REPORT_IP_CHANGED:
        return St.ipChanged(ctx, conn, body)
      case T.STORAGE_JOIN:
        return St.join(ctx, conn, body)
      case T.STORAGE_BEAT:
        return St.beat(ctx, conn, body)
      case T.STORAGE_REPORT_DISK_USAGE:
        return St.diskUsage(ctx, conn, body)
      case T.STORAGE_SYNC_REPORT:
        return St.syncReport(ctx, conn, body)
      case T.STORAGE_SYNC_NOTIFY:
        return Sy.syncNotify(ctx, conn, body)
      case T.STORAGE_SYNC_DEST_REQ:
        return Sy.syncDestReq(ctx, conn, body)
      case T.STORAGE_SYNC_DEST_QUERY:
        return Sy.syncDestQuery(conn, body)
      case T.STORAGE_SYNC_SRC_REQ:
        return Sy.syncSrcReq(ctx, body)
      case T.STORAGE_REPORT_STATUS:
        return Sy.reportStatus(ctx, body)
      case T.STORAGE_CHANGE_STATUS:
        return St.changeStatus(ctx, conn, body)
      case T.STORAGE_FETCH_STORAGE_IDS:
        return St.fetchStorageIds(ctx, body)
      case T.STORAGE_GET_SERVER_ID:
        return St.getServerId(ctx, body)
      case T.STORAGE_GET_STATUS:
        return St.getStatus(ctx, body)
      case T.TRACKER_CLUSTER_STAT:
        return Stat.trackerClusterStat(ctx, conn, body)
      case T.STORAGE_CLUSTER_STAT:
        return Stat.storageClusterStat(ctx, body)
      case T.STORAGE_VOLUMN_STAT:
        return Stat.volumnStat(ctx, body)
      case T.STORAGE_REPLICA_CHG:
        return fail(0)
      case T.TANDEM_STORAGE_DETAIL:
        return storageDetail(ctx, body)
      case T.TANDEM_SYNC_PROGRESS:
        return syncProgress(conn, body)
      default:
        log.warn({ peer: conn.peerIp, cmd }, 'unknown command')
        return fail(ERRNO.EINVAL)
    }
  }
}

/** Start a tracker for `conf`; resolves once listening (tests, fdfs_trackerd). */
export async function startTracker(conf: TrackerConf): Promise<TrackerServer> {
  const t = new TrackerServer(conf)
  await t.listen()
  return t
}
