/**
 * Client side of the tracker commands: query store (101/104/106/107), query
 * fetch/update (102/103/105), monitor lists (90/91/92), delete storage/group
 * (93/108), GET_LEADER (95), ACTIVE_TEST (111).
 *
 * Trackers are tried in order starting from a rotating index; a connect
 * failure moves on to the next one, a status reply is final (as the C client).
 * Used by FdfsClient, fdfs_monitor, fdfs_test and tests.
 */
import { COMMON_CMD, FIELD, TRACKER_CMD as T } from '../protocol/constants.js'
import { fixed, getFixed } from '../protocol/header.js'
import { decodeGroupStat, decodeStorageStats, GROUP_STAT_SIZE, type GroupStat, type StorageStat } from '../tracker/monitor-codec.js'
import type { HostPort } from './client-conf.js'
import { ConnectionPool, type FdfsConnection } from './connection.js'
import { CLIENT_ERROR, FdfsError } from './errors.js'

/** A storage as returned by query commands. */
export interface StorageAddr extends HostPort {
  group: string
  /** Store path index for uploads (undefined for fetch/update replies). */
  storePathIndex?: number
}

const MAX_REPLY = 512 * 1024

function ipWidthFor(bodyLen: number, fixedLen: number, perServer4: number, perServer6: number): 15 | 45 {
  const rest = bodyLen - fixedLen
  if (rest > 0 && rest % perServer4 === 0) return 15
  if (rest > 0 && rest % perServer6 === 0) return 45
  throw new FdfsError(CLIENT_ERROR.PROTOCOL, 22, `tracker reply length ${bodyLen} is invalid`)
}

function parseServers(b: Buffer, off: number, count: number, ipw: number, group: string): StorageAddr[] {
  const out: StorageAddr[] = []
  for (let i = 0; i < count; i++) {
    const host = getFixed(b, off, ipw)
    const port = Number(b.readBigInt64BE(off + ipw))
    out.push({ group, host, port })
    off += ipw + 8
  }
  return out
}

/** Extra per-storage facts from our tracker (TANDEM_STORAGE_DETAIL, fdfs_monitor shows them); a real tracker has none. */
export type StorageDetails = Array<{
  id: string
  ip: string
  port: number
  status: number
  reason: string
  synced: Record<string, number>
  pushing?: Record<string, { behindBytes: number; behindRecords?: number; parked: number; connected: boolean }>
}>

export class TrackerClient {
  private next = 0

  constructor(
    readonly trackers: HostPort[],
    readonly pool: ConnectionPool,
  ) {
    if (trackers.length === 0) throw new FdfsError(CLIENT_ERROR.ARGUMENT, 22, 'no tracker server configured')
  }

  /** Run `fn` against the first reachable tracker. */
  async withTracker<T>(fn: (c: FdfsConnection, t: HostPort) => Promise<T>): Promise<T> {
    let last: unknown
    const n = this.trackers.length
    const start = this.next
    for (let i = 0; i < n; i++) {
      const t = this.trackers[(start + i) % n]
      try {
        const r = await this.pool.with(t, (c) => fn(c, t))
        this.next = (start + i) % n
        return r
      } catch (e) {
        last = e
        if (!(e instanceof FdfsError) || e.code !== CLIENT_ERROR.CONNECT) throw e
      }
    }
    throw last
  }

  /** 101/104: one storage (+ store path index) to upload to. */
  queryStore(group?: string): Promise<StorageAddr> {
    return this.withTracker(async (c) => {
      const b = group ? await c.call(T.QUERY_STORE_WITH_GROUP_ONE, [fixed(group, FIELD.GROUP_NAME)], 128) : await c.call(T.QUERY_STORE_WITHOUT_GROUP_ONE, [], 128)
      const ipw = ipWidthFor(b.length, 17, 23, 53)
      const g = getFixed(b, 0, FIELD.GROUP_NAME)
      const [s] = parseServers(b, 16, 1, ipw, g)
      return { ...s, storePathIndex: b[b.length - 1] }
    })
  }

  /** 106/107: every writable storage of the chosen group (+ store path index). */
  queryStoreAll(group?: string): Promise<StorageAddr[]> {
    return this.withTracker(async (c) => {
      const b = group ? await c.call(T.QUERY_STORE_WITH_GROUP_ALL, [fixed(group, FIELD.GROUP_NAME)], MAX_REPLY) : await c.call(T.QUERY_STORE_WITHOUT_GROUP_ALL, [], MAX_REPLY)
      const ipw = ipWidthFor(b.length, 17, 23, 53)
      const g = getFixed(b, 0, FIELD.GROUP_NAME)
      const idx = b[b.length - 1]
      return parseServers(b, 16, (b.length - 17) / (ipw + 8), ipw, g).map((s) => ({ ...s, storePathIndex: idx }))
    })
  }

  private fetchLike(cmd: number, group: string, remote: string): Promise<StorageAddr[]> {
    return this.withTracker(async (c) => {
      const b = await c.call(cmd, [fixed(group, FIELD.GROUP_NAME), Buffer.from(remote)], MAX_REPLY)
      const ipw = ipWidthFor(b.length, 16, 23, 53)
      const g = getFixed(b, 0, FIELD.GROUP_NAME)
      return parseServers(b, 16, (b.length - 16) / (ipw + 8), ipw, g)
    })
  }

  /** 102: a storage to download from. */
  async queryFetch(group: string, remote: string): Promise<StorageAddr> {
    return (await this.fetchLike(T.QUERY_FETCH_ONE, group, remote))[0]
  }

  /** 103: the storage to delete / set metadata / append / modify on. */
  async queryUpdate(group: string, remote: string): Promise<StorageAddr> {
    return (await this.fetchLike(T.QUERY_UPDATE, group, remote))[0]
  }

  /** 105: every storage known to have the file. */
  queryFetchAll(group: string, remote: string): Promise<StorageAddr[]> {
    return this.fetchLike(T.QUERY_FETCH_ALL, group, remote)
  }

  /** 91: every group's stat. */
  listGroups(): Promise<GroupStat[]> {
    return this.withTracker(async (c) => {
      const b = await c.call(T.SERVER_LIST_ALL_GROUPS, [], FIELD.MAX_GROUPS * GROUP_STAT_SIZE)
      if (b.length % GROUP_STAT_SIZE !== 0) throw new FdfsError(CLIENT_ERROR.PROTOCOL, 22, `group list length ${b.length} invalid`)
      const out: GroupStat[] = []
      for (let off = 0; off < b.length; off += GROUP_STAT_SIZE) out.push(decodeGroupStat(b, off))
      return out
    })
  }

  /** 90: one group's stat. */
  listOneGroup(group: string): Promise<GroupStat> {
    return this.withTracker(async (c) => decodeGroupStat(await c.call(T.SERVER_LIST_ONE_GROUP, [fixed(group, FIELD.GROUP_NAME)], GROUP_STAT_SIZE, GROUP_STAT_SIZE)))
  }

  /** 92: the storages of a group, optionally one storage id. */
  listStorages(group: string, storageId?: string): Promise<StorageStat[]> {
    return this.withTracker(async (c) => {
      const parts = [fixed(group, FIELD.GROUP_NAME)]
      if (storageId) parts.push(Buffer.from(storageId))
      const b = await c.call(T.SERVER_LIST_STORAGE, parts, FIELD.MAX_SERVERS_PER_GROUP * 517)
      return b.length ? decodeStorageStats(b) : []
    })
  }

  /** 93: remove an offline storage from a group. */
  async deleteStorage(group: string, storageId: string): Promise<void> {
    await this.withTracker((c) => c.call(T.SERVER_DELETE_STORAGE, [fixed(group, FIELD.GROUP_NAME), Buffer.from(storageId)], 0))
  }

  /** 108: remove a group without connected storages. */
  async deleteGroup(group: string): Promise<void> {
    await this.withTracker((c) => c.call(T.SERVER_DELETE_GROUP, [fixed(group, FIELD.GROUP_NAME)], 0))
  }

  /**
   * 250 (tandemfs extension): status reasons and per-source synced timestamps
   * of a group's storages; undefined when the tracker does not support it (a real one).
   */
  async storageDetails(group: string): Promise<StorageDetails | undefined> {
    try {
      const b = await this.withTracker((c) => c.call(T.TANDEM_STORAGE_DETAIL, [fixed(group, FIELD.GROUP_NAME)], 1024 * 1024))
      return JSON.parse(b.toString('utf8'))
    } catch {
      return undefined
    }
  }

  /** 95: `ip:port` of the leader tracker. */
  getLeader(): Promise<string> {
    return this.withTracker(async (c) => (await c.call(T.SERVER_GET_LEADER, [], 256)).toString('latin1'))
  }

  /** 111 against the current tracker. */
  async activeTest(): Promise<void> {
    await this.withTracker((c) => c.call(COMMON_CMD.ACTIVE_TEST, [], 0))
  }
}
