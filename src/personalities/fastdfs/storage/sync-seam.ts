/**
 * Starts and stops the storage->storage sync senders (sync/peer-sender.ts),
 * one per other member of our group, from the membership the trackers send in
 * their change-flags replies (storaged.ts wires `setPeers` to the reporter's
 * 'peers' event).
 *
 * Bootstrap of a new member (spec §8, storage_sync.c facts): when a peer shows
 * up in WAIT_SYNC/SYNCING and we have no mark for it, we ask a tracker
 * SYNC_SRC_REQ (86) whether we are its source. If so the sender runs in
 * "sync old" mode (whole binlog incl. replica records up to until_timestamp)
 * and we report the peer SYNCING, then OFFLINE once it caught up, with
 * REPORT_STATUS (76) to every tracker; the peer's own next beat makes it ACTIVE.
 * Unlike the C storage, a non-source member does not skip its binlog up to
 * until_timestamp for a new peer: it replays its own records from the start
 * (duplicates get EEXIST), which closes the window where a record logged just
 * before until would reach neither copy.
 *
 * Identity: mark files are `<ip>_<port>.mark`, or `<storage id>.mark` with use_storage_id.
 */
import { logger } from '../../../log.js'
import { FIELD, STORAGE_STATUS as S, TRACKER_CMD as T } from '../protocol/constants.js'
import { getFixed, putFixed } from '../protocol/header.js'
import { PeerSender, type SenderStatus, type SyncSource } from '../sync/peer-sender.js'
import type { StorageBrief } from './tracker-reporter.js'

const log = logger('fastdfs.storage.sync')

/** Why 2 s: a tracker that could not answer SYNC_SRC_REQ is retried soon, without spinning. */
const INIT_RETRY_MS = 2000

/** What the sync manager needs from the storage daemon. */
export interface SyncSenderDeps {
  source: SyncSource
  /** Our own wire identity (storage id, or ip) so we skip ourselves in the peer list. */
  self: () => string
  useStorageId: boolean
  /** Tracker requests (the TrackerReporter). */
  tracker: {
    callFirst(cmd: number, body: Buffer): Promise<Buffer>
    callAll(cmd: number, body: Buffer): Promise<Array<Buffer | undefined>>
  }
}

/** The running senders; `status()` lists their progress (absent peers are simply not listed). */
export interface SyncSenders {
  /** Called with every new group membership list from the trackers (ourselves included). */
  setPeers(peers: StorageBrief[]): void
  status(): SenderStatus[]
  stop(): Promise<void>
}

interface Entry {
  brief: StorageBrief
  sender?: PeerSender
  /** We are this peer's bootstrap source and have not reported it OFFLINE yet. */
  bootstrapping: boolean
  starting: boolean
}

const gone = (st: number) => st === S.DELETED || st === S.IP_CHANGED || st === S.NONE

/** Create the manager; nothing runs until the first setPeers. */
export function startSyncSenders(deps: SyncSenderDeps): SyncSenders {
  const entries = new Map<string, Entry>()
  let stopped = false
  let latest: StorageBrief[] = []
  let retry: NodeJS.Timeout | undefined
  const group = deps.source.group
  const wireId = (p: StorageBrief) => p.id || p.ip
  const markKey = (p: StorageBrief) => (deps.useStorageId && p.id ? p.id : `${p.ip}_${p.port}`)

  async function reportStatus(p: StorageBrief, status: number): Promise<void> {
    const b = Buffer.alloc(FIELD.GROUP_NAME + FIELD.STORAGE_BRIEF)
    putFixed(b, 0, FIELD.GROUP_NAME, group)
    b[FIELD.GROUP_NAME] = status
    // port stays 0 like the C storage's memset brief; the tracker finds the peer by id.
    putFixed(b, FIELD.GROUP_NAME + 5, FIELD.STORAGE_ID, wireId(p))
    putFixed(b, FIELD.GROUP_NAME + 5 + FIELD.STORAGE_ID, FIELD.IP_ADDRESS_FULL, p.ip)
    log.info({ peer: wireId(p), status }, 'reporting peer status to the trackers')
    await deps.tracker.callAll(T.STORAGE_REPORT_STATUS, b)
  }

  /** Are we `p`'s bootstrap source? → its until timestamp, else undefined. Throws when no tracker answered. */
  async function askSource(p: StorageBrief): Promise<number | undefined> {
    const b = Buffer.alloc(FIELD.GROUP_NAME + FIELD.STORAGE_ID)
    putFixed(b, 0, FIELD.GROUP_NAME, group)
    putFixed(b, FIELD.GROUP_NAME, FIELD.STORAGE_ID, wireId(p))
    const r = await deps.tracker.callFirst(T.STORAGE_SYNC_SRC_REQ, b)
    if (r.length < FIELD.STORAGE_ID + 8) return undefined
    const src = getFixed(r, 0, FIELD.STORAGE_ID)
    return src === deps.self() ? Number(r.readBigInt64BE(FIELD.STORAGE_ID)) : undefined
  }

  async function begin(key: string, e: Entry): Promise<void> {
    e.starting = true
    try {
      const p = e.brief
      const cur = await deps.source.binlog.cursor(key)
      const fresh = cur.index === 0 && cur.offset === 0 && Object.keys(cur.extra).length === 0
      let syncOld: { until: number } | undefined
      if (fresh && (p.status === S.WAIT_SYNC || p.status === S.SYNCING)) {
        const until = await askSource(p)
        if (until !== undefined) syncOld = { until }
      }
      if (stopped || entries.get(key) !== e) return
      e.bootstrapping = !!syncOld || (cur.extra.need_sync_old === '1' && cur.extra.sync_old_done !== '1')
      const sender = new PeerSender(deps.source, { id: key, host: p.ip, port: p.port }, syncOld, {
        onConnected: () => {
          if (e.bootstrapping && e.brief.status === S.WAIT_SYNC) {
            e.brief = { ...e.brief, status: S.SYNCING }
            void reportStatus(e.brief, S.SYNCING)
          }
        },
        onCaughtUp: ({ syncOldJustDone }) => {
          if (!e.bootstrapping && !syncOldJustDone) return
          e.bootstrapping = false
          void reportStatus(e.brief, S.OFFLINE)
        },
      })
      e.sender = sender
      sender.start()
      log.info({ peer: key, host: `${p.ip}:${p.port}`, syncOld: syncOld?.until }, 'sync sender started')
    } catch (err) {
      log.warn({ peer: key, err: (err as Error).message }, 'cannot start sync sender yet; will retry')
      retry ??= setTimeout(() => {
        retry = undefined
        if (!stopped) api.setPeers(latest)
      }, INIT_RETRY_MS)
    } finally {
      e.starting = false
    }
  }

  const api: SyncSenders = {
    setPeers(peers) {
      if (stopped) return
      latest = peers
      const seen = new Set<string>()
      for (const p of peers) {
        if (!p.ip || !p.port || wireId(p) === deps.self()) continue
        const key = markKey(p)
        seen.add(key)
        let e = entries.get(key)
        if (gone(p.status)) {
          if (e) {
            entries.delete(key)
            void e.sender?.stop()
            log.info({ peer: key, status: p.status }, 'peer left the group; sync sender stopped')
          }
          continue
        }
        if (e && (e.brief.ip !== p.ip || e.brief.port !== p.port)) {
          // New address (id mode): restart the sender at the same mark.
          entries.delete(key)
          void e.sender?.stop()
          e = undefined
        }
        if (!e) {
          e = { brief: p, bootstrapping: false, starting: false }
          entries.set(key, e)
        } else if (!(e.brief.status === S.SYNCING && p.status === S.WAIT_SYNC)) e.brief = p
        // A peer still in INIT has not been assigned a source yet: wait for its next status.
        if (!e.sender && !e.starting && p.status !== S.INIT) void begin(key, e)
      }
      for (const [key, e] of entries) {
        if (seen.has(key)) continue
        entries.delete(key)
        void e.sender?.stop()
        log.info({ peer: key }, 'peer no longer in the group; sync sender stopped')
      }
    },
    status() {
      return [...entries.values()].flatMap((e) => (e.sender ? [e.sender.status()] : []))
    },
    async stop() {
      stopped = true
      if (retry) clearTimeout(retry)
      await Promise.all([...entries.values()].map((e) => e.sender?.stop()))
      entries.clear()
    },
  }
  return api
}
