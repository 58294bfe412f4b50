/**
 * Assemble a running storage daemon from its config: file store, client-facing
 * server and tracker reporter. Called by the fdfs_storaged CLI through runDaemon;
 * `close()` stops gracefully (in-flight requests get the TcpServer grace period,
 * aborted uploads leave only temp files, which LocalBlobStore removes).
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { logger } from '../../../log.js'
import type { ReservedRule } from '../../../engine/disk/reserved.js'
import type { Running } from '../../../server/daemon.js'
import { ConfFile } from '../../../config/conf-file.js'
import { FileStore } from './store.js'
import { SyncAdmission } from './sync-admission.js'
import { startStorageServer } from './server.js'
import { TrackerReporter, type StorageBrief } from './tracker-reporter.js'
import { startSyncSenders, type SyncSenders } from './sync-seam.js'
import { openRemote, readRemoteNow, statRemote } from './sync-source.js'
import { LARGE } from '../../../engine/blob/local-blob-store.js'
import { PeerProxy } from './peer-proxy.js'
import { startHttp } from './http-server.js'
import type { SyncSource } from '../sync/peer-sender.js'
import { STORAGE_STATUS } from '../protocol/constants.js'
import { resolveStorageId, type StorageConfig } from './storage-conf.js'
import { registerSyncMetrics } from './sync-metrics.js'

const log = logger('fastdfs.storage.daemon')

/** Why 60 s: counters and the subdir position are cheap to rewrite, and at most a minute of stats is lost on a crash. */
const STAT_SAVE_MS = 60_000
const FIRST_IP_WAIT_MS = 3000

/** A first guess of our IPv4 before any tracker answered GET_MY_IP (bind_addr, else the first external interface). */
function guessIp(cfg: StorageConfig): string {
  if (cfg.bindAddr && cfg.bindAddr !== '0.0.0.0') return cfg.bindAddr
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

export interface RunningStorage extends Running {
  store: FileStore
  reporter: TrackerReporter
  senders: SyncSenders
  port: number
}

/** Start everything; resolves once the port is listening. */
export async function startStorage(cfg: StorageConfig): Promise<RunningStorage> {
  const upTime = Math.floor(Date.now() / 1000)
  // Shared by reference with every LocalBlobStore so the tracker's reserved_storage_space can update it live.
  const reserved: ReservedRule = { ...cfg.reserved }
  let ip = guessIp(cfg)
  let storageId: string | undefined
  if (cfg.useStorageId) {
    let text = ''
    try {
      text = cfg.storageIdsFile ? readFileSync(cfg.storageIdsFile, 'utf8') : ''
    } catch (e) {
      if (!cfg.id) throw new Error(`cannot read storage_ids_filename ${cfg.storageIdsFile}: ${(e as Error).message}`)
    }
    storageId = resolveStorageId(cfg, text, ip)
    if (!storageId) throw new Error(`use_storage_id = true but no id for ${cfg.groupName} ${ip}:${cfg.port} (set "id = <n>" in storage.conf)`)
  }
  const nameSource = () => (cfg.useStorageId && cfg.idTypeInFilename === 'id' && storageId ? storageId : ip)
  const store = await FileStore.open(cfg, reserved, nameSource())
  let senders: SyncSenders | undefined
  const reporter = new TrackerReporter({
    cfg,
    store,
    storageId,
    upTime,
    progress: () => Object.fromEntries((senders?.status() ?? []).map((s) => [s.peer, { behindBytes: s.behindBytes, behindRecords: s.behindRecords, parked: s.parked, connected: s.connected, lastSyncedTimestamp: s.lastSyncedTimestamp }])),
  })
  reporter.on('myIp', (v: string) => {
    ip = v
    store.source = nameSource()
    log.info({ ip: v }, 'tracker told us our address')
  })
  reporter.on('params', (p: Record<string, string>) => {
    const v = p.reserved_storage_space
    if (!v) return
    try {
      const r = ConfFile.parse(`reserved_storage_space = ${v}`).reserved('reserved_storage_space', '1%')
      reserved.bytes = r.bytes
      reserved.ratio = r.ratio
    } catch (e) {
      log.warn({ value: v, err: (e as Error).message }, 'ignoring bad reserved_storage_space from tracker')
    }
  })
  // Our identity towards peers and trackers: the storage id, else the IP (what REPORT_SERVER_ID carries).
  const self = () => storageId ?? ip
  const source: SyncSource = {
    group: cfg.groupName,
    get myId() {
      return self()
    },
    binlog: store.binlog,
    open: (r, range) => openRemote(store, r, range),
    readNow: (r, headroom) => {
      const got = readRemoteNow(store, r, headroom)
      return got === LARGE ? null : got
    },
    stat: (r) => statRemote(store, r),
    heartbeatMs: cfg.heartBeatInterval * 1000,
    syncLanes: cfg.syncMaxThreads,
    networkTimeoutMs: cfg.networkTimeout * 1000,
    localAddress: cfg.bindAddr && cfg.bindAddr !== '0.0.0.0' ? cfg.bindAddr : undefined,
  }
  senders = startSyncSenders({ source, self, useStorageId: cfg.useStorageId, tracker: reporter })
  registerSyncMetrics(() => senders?.status() ?? [])
  let myStatus: number = STORAGE_STATUS.INIT
  reporter.on('peers', (p: StorageBrief[], from: string) => {
    const me = p.find((b) => (b.id || b.ip) === self())
    if (me) myStatus = me.status
    senders.setPeers(p, from)
  })
  const proxy = new PeerProxy({
    selfSource: () => store.source,
    myId: self,
    peers: () => reporter.peers,
    maxDelaySec: () => Number(reporter.params.storage_sync_file_max_delay ?? 86400) || 86400,
    myStatus: () => (myStatus === STORAGE_STATUS.INIT ? reporter.myStatus : myStatus),
    networkTimeoutSec: cfg.networkTimeout,
    localAddress: source.localAddress,
  })
  await reporter.start()
  if (!cfg.bindAddr || cfg.bindAddr === '0.0.0.0') {
    // New file names carry our address; without bind_addr only a tracker knows which
    // of our addresses peers see. Why at most 3 s: long enough for a reachable tracker
    // to answer GET_MY_IP, short enough that a down tracker does not stall the start
    // (we then name files with the guessed interface address).
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, FIRST_IP_WAIT_MS)
      reporter.once('myIp', () => {
        clearTimeout(t)
        resolve()
      })
    })
  }
  let server
  try {
    server = await startStorageServer({
      host: cfg.bindAddr || '0.0.0.0',
      port: cfg.port,
      ctx: {
        store,
        group: cfg.groupName,
        myIp: () => ip,
        proxyMissing: (req, f, body) => proxy.forward(req, f, body),
        onSynced: (peer, ts) => reporter.noteSynced(peer, ts),
        networkTimeoutMs: cfg.networkTimeout * 1000,
        syncAdmission: new SyncAdmission({
          max: cfg.uploadSyncBacklogMax,
          waitCopies: (pos, copies, ms) => senders.waitCopies(pos, copies, ms),
          connectedPeers: () => senders.status().filter((s) => s.connected).length,
          // Why upload_copies_timeout (default 10 s) / 30 s: a peer that has not stored a file that
          // long after it was uploaded is stuck, not busy (a healthy one drains ~1 GB/s here), and
          // the rule is retried half a minute later.
          stallMs: cfg.uploadCopiesTimeoutMs,
          offMs: 30_000,
        }),
        waitCopies:
          cfg.uploadMinCopies > 1
            ? async (pos) => {
                if (!(await senders.waitCopies(pos, cfg.uploadMinCopies - 1, cfg.uploadCopiesTimeoutMs))) {
                  log.warn({ copies: cfg.uploadMinCopies, timeoutMs: cfg.uploadCopiesTimeoutMs }, 'upload answered before upload_min_copies copies existed')
                }
              }
            : undefined,
      },
      buffSize: cfg.buffSize,
      networkTimeout: cfg.networkTimeout,
    })
  } catch (e) {
    reporter.stop()
    await senders.stop()
    await store.close()
    throw e
  }
  let http: Awaited<ReturnType<typeof startHttp>> | undefined
  if (cfg.httpEnabled) {
    try {
      http = await startHttp({ cfg, store, peers: () => reporter.peers, self })
    } catch (e) {
      reporter.stop()
      await senders.stop()
      await server.close()
      await store.close()
      throw e
    }
  }
  const port = server.address().port
  const timer = setInterval(() => store.saveStat().catch((e) => log.warn({ err: e }, 'saving stats failed')), STAT_SAVE_MS)
  timer.unref()
  log.info({ group: cfg.groupName, port, paths: cfg.storePaths }, 'fdfs_storaged serving')
  return {
    store,
    reporter,
    senders,
    port,
    async close() {
      clearInterval(timer)
      reporter.stop()
      await senders.stop()
      proxy.close()
      await http?.close()
      await server.close()
      await store.close()
    },
  }
}
