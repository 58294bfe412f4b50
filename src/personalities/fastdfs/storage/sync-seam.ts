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
import type { BinlogPosition } from '../../../engine/binlog/binlog.js'
import { PeerSender, type SenderStatus, type SyncSource } from '../sync/peer-sender.js'
import type { StorageBrief } from './tracker-reporter.js'

const log = logger('fastdfs.storage.sync')

/** Why 2 s: a tracker that could not answer SYNC_SRC_REQ is retried soon, without spinning. */
const INIT_RETRY_MS = 2000
/** Why 15 (x 2 s): a new storage's SYNC_NOTIFY reaches every tracker within a few heartbeats. */
const MAX_SOURCE_ASKS = 15
/**
 * Why 2 s: a tracker that learned a peer after our OFFLINE report went out
 * still shows it WAIT_SYNC/SYNCING; re-reporting (checked every 2 s) is cheap
 * and the views converge within a heartbeat or two.
 */
const NAG_MS = 2000

/** What the sync manager needs from the storage daemon. */
export interface SyncSenderDeps {
  source: SyncSource
  /** Our own wire identity (storage id, or ip) so we skip ourselves in the peer list. */
  self: () => string
  useStorageId: boolean
  /** Tracker requests (the TrackerReporter). */
  tracker: {
    callAll(cmd: number, body: Buffer): Promise<Array<Buffer | undefined>>
  }
}

/** The running senders; `status()` lists their progress (absent peers are simply not listed). */
export interface SyncSenders {
  /** Called with every new group membership list from a tracker (ourselves included); `from` names that tracker. */
  setPeers(peers: StorageBrief[], from?: string): void
  status(): SenderStatus[]
  /**
   * Resolves true once `copies` peers acknowledged binlog position `pos`
   * (upload_min_copies), false after `ms` or when fewer peers exist.
   */
  waitCopies(pos: BinlogPosition, copies: number, ms: number): Promise<boolean>
  stop(): Promise<void>
}

interface Entry {
  brief: StorageBrief
  sender?: PeerSender
  /** We are this peer's bootstrap source and have not reported it OFFLINE yet. */
  bootstrapping: boolean
  starting: boolean
  /** SYNC_SRC_REQ rounds without an answer naming a source. */
  asks: number
  /** We bootstrapped this peer completely (its OFFLINE report went out at least once). */
  doneOld: boolean
  lastNag: number
}

const gone = (st: number) => st === S.DELETED || st === S.IP_CHANGED || st === S.NONE

/** Create the manager; nothing runs until the first setPeers. */
export function startSyncSenders(deps: SyncSenderDeps): SyncSenders {
  const entries = new Map<string, Entry>()
  let stopped = false
  /**
   * Senders being stopped, by mark key, until their stop (which saves their mark one last time)
   * has finished. Whoever takes over a mark waits for it first: a peer that moved (its old mark is
   * renamed to the new address) or came back under a new address with the same id (id mode), so
   * the old sender's last save never lands after the new owner read or moved the mark.
   */
  const stopping = new Map<string, Promise<void>>()
  function retire(key: string, e: Entry): void {
    if (!e.sender) return
    const done = e.sender.stop().finally(() => {
      if (stopping.get(key) === done) stopping.delete(key)
    })
    stopping.set(key, done)
  }
  let latest: StorageBrief[] = []
  let retry: NodeJS.Timeout | undefined
  /** Each tracker's latest view: a tracker that learned a peer late may still show it bootstrapping. */
  const views = new Map<string, StorageBrief[]>()
  const nagTimer = setInterval(() => {
    for (const view of views.values()) {
      for (const p of view) {
        const e = entries.get(markKey(p))
        if (!e?.doneOld || (p.status !== S.WAIT_SYNC && p.status !== S.SYNCING) || Date.now() - e.lastNag < NAG_MS) continue
        e.lastNag = Date.now()
        void reportStatus(p, S.OFFLINE)
      }
    }
  }, NAG_MS)
  nagTimer.unref()
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

  /**
   * Who bootstraps `p`? Asks every tracker (only some may have heard the new
   * storage's SYNC_NOTIFY yet): `{ until }` when it is us, `{}` when another
   * member, undefined when no tracker names a source yet.
   */
  async function askSource(p: StorageBrief): Promise<{ until?: number } | undefined> {
    const b = Buffer.alloc(FIELD.GROUP_NAME + FIELD.STORAGE_ID)
    putFixed(b, 0, FIELD.GROUP_NAME, group)
    putFixed(b, FIELD.GROUP_NAME, FIELD.STORAGE_ID, wireId(p))
    let answer: { until?: number } | undefined
    for (const r of await deps.tracker.callAll(T.STORAGE_SYNC_SRC_REQ, b)) {
      if (!r || r.length < FIELD.STORAGE_ID + 8) continue
      if (getFixed(r, 0, FIELD.STORAGE_ID) === deps.self()) return { until: Number(r.readBigInt64BE(FIELD.STORAGE_ID)) }
      answer = {}
    }
    return answer
  }

  /** New IP → old IP of peers that moved (ip mode), from the tracker changelog lines read so far. */
  const movedFrom = new Map<string, string>()

  /**
   * ip mode: read the tracker changelog (STORAGE_CHANGELOG_REQ 77, each line is delivered once) and
   * remember which peers moved where, so a moved peer's sender picks up at the old mark instead of
   * replaying the whole binlog to it. Failures only cost that replay (answered EEXIST).
   */
  async function readChangelog(): Promise<void> {
    const b = Buffer.alloc(FIELD.GROUP_NAME + FIELD.STORAGE_ID)
    putFixed(b, 0, FIELD.GROUP_NAME, group)
    putFixed(b, FIELD.GROUP_NAME, FIELD.STORAGE_ID, deps.self())
    for (const r of await deps.tracker.callAll(T.STORAGE_CHANGELOG_REQ, b)) {
      for (const line of (r ?? Buffer.alloc(0)).toString('latin1').split('\n')) {
        const f = line.split(' ')
        if (f.length === 5 && f[1] === group && Number(f[3]) === S.IP_CHANGED && f[4]) movedFrom.set(f[4], f[2])
      }
    }
  }

  /** A fresh mark for `p`: if `p` is a peer that moved, take over its old mark (as the C storage does). */
  async function adoptMovedMark(key: string, p: StorageBrief): Promise<void> {
    if (deps.useStorageId) return
    if (!movedFrom.has(p.ip)) await readChangelog().catch((err) => log.warn({ err: (err as Error).message }, 'cannot read the tracker changelog'))
    const old = movedFrom.get(p.ip)
    if (!old) return
    movedFrom.delete(p.ip)
    const oldKey = markKey({ ...p, ip: old })
    await stopping.get(oldKey)
    if (await deps.source.binlog.renameCursor(oldKey, key)) log.info({ peer: key, from: oldKey }, 'peer changed its address: kept its sync mark')
  }

  async function begin(key: string, e: Entry): Promise<void> {
    e.starting = true
    try {
      const p = e.brief
      await stopping.get(key)
      let cur = await deps.source.binlog.cursor(key)
      if (cur.index === 0 && cur.offset === 0 && Object.keys(cur.extra).length === 0 && !deps.useStorageId) {
        await adoptMovedMark(key, p)
        cur = await deps.source.binlog.cursor(key)
      }
      const fresh = cur.index === 0 && cur.offset === 0 && Object.keys(cur.extra).length === 0
      let syncOld: { until: number } | undefined
      if (fresh && (p.status === S.WAIT_SYNC || p.status === S.SYNCING)) {
        const who = await askSource(p)
        // Nobody names its source yet: ask again shortly rather than miss being it (bounded,
        // in case a tracker cleared the source: then we sync to it like to any member).
        if (!who && ++e.asks < MAX_SOURCE_ASKS) throw new Error('no tracker names a sync source for the new peer yet')
        if (who?.until !== undefined) syncOld = { until: who.until }
      }
      if (stopped || entries.get(key) !== e) return
      e.bootstrapping = !!syncOld || (cur.extra.need_sync_old === '1' && cur.extra.sync_old_done !== '1')
      e.doneOld = cur.extra.need_sync_old === '1' && cur.extra.sync_old_done === '1'
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
          e.doneOld = true
          e.lastNag = Date.now()
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
        if (!stopped) apply(latest)
      }, INIT_RETRY_MS)
    } finally {
      e.starting = false
    }
  }

  /** Start, update or stop senders for one membership list. */
  function apply(peers: StorageBrief[]): void {
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
          retire(key, e)
          log.info({ peer: key, status: p.status }, 'peer left the group; sync sender stopped')
        }
        continue
      }
      if (e && (e.brief.ip !== p.ip || e.brief.port !== p.port)) {
        // New address (id mode): restart the sender at the same mark.
        entries.delete(key)
        retire(key, e)
        e = undefined
      }
      if (!e) {
        e = { brief: p, bootstrapping: false, starting: false, asks: 0, doneOld: false, lastNag: 0 }
        entries.set(key, e)
      } else if (!(e.brief.status === S.SYNCING && p.status === S.WAIT_SYNC)) {
        const up = (st: number) => st === S.ONLINE || st === S.ACTIVE
        if (up(p.status) && !up(e.brief.status)) e.sender?.nudge()
        e.brief = p
      }
      // A peer still in INIT has not been assigned a source yet: wait for its next status.
      if (!e.sender && !e.starting && p.status !== S.INIT) void begin(key, e)
    }
    for (const [key, e] of entries) {
      if (seen.has(key)) continue
      // With several trackers, one may not know a peer yet: only a peer no tracker lists is gone.
      if ([...views.values()].some((v) => v.some((p) => markKey(p) === key && !gone(p.status)))) continue
      entries.delete(key)
      retire(key, e)
      log.info({ peer: key }, 'peer no longer in the group; sync sender stopped')
    }
  }

  const api: SyncSenders = {
    setPeers(peers, from = '') {
      if (stopped) return
      views.set(from, peers)
      apply(peers)
    },
    async waitCopies(pos, copies, ms) {
      const senders = [...entries.values()].flatMap((e) => (e.sender ? [e.sender] : []))
      if (senders.length < copies) return false
      return new Promise<boolean>((resolve) => {
        let ok = 0
        let left = senders.length
        for (const s of senders) {
          void s.waitAcked(pos, ms).then((v) => {
            if (v && ++ok === copies) resolve(true)
            if (--left === 0) resolve(ok >= copies)
          })
        }
      })
    },
    status() {
      return [...entries.values()].flatMap((e) => (e.sender ? [e.sender.status()] : []))
    },
    async stop() {
      stopped = true
      clearInterval(nagTimer)
      if (retry) clearTimeout(retry)
      await Promise.all([...entries.values()].map((e) => e.sender?.stop()).concat([...stopping.values()]))
      entries.clear()
    },
  }
  return api
}
