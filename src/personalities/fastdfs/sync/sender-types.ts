/**
 * Types shared by the sync sender (peer-sender.ts), its storage-side adapter
 * (storage/sync-source.ts via storaged.ts) and the sender manager
 * (storage/sync-seam.ts).
 */
import type { Binlog, BinlogPosition } from '../../../engine/binlog/binlog.js'
import type { BlobMeta, ReadHandle } from '../../../engine/blob/blob-store.js'

/** What a sender needs from its storage (implemented by the storage service). */
export interface SyncSource {
  group: string
  /** Our identity as peers know it (storage id, or ip). Sent in REPORT_SERVER_ID. */
  myId: string
  binlog: Binlog
  /** Open a stored file by remote filename (`M00/..`); `undefined` when absent. */
  open(remote: string, range?: { start: number; end?: number }): Promise<ReadHandle | undefined>
  stat(remote: string): Promise<BlobMeta | undefined>
  /**
   * A small stored file read synchronously into `framed`, after `headroom` free bytes the sender
   * fills with the request head (one buffer, one write). `undefined` when absent (as `open`);
   * `null` when it cannot be read that way (too large, or no such path here): use `open`.
   * Absent member = always use `open`.
   */
  readNow?(remote: string, headroom: number): { framed: Buffer; size: number } | undefined | null
  /**
   * Connections a backlog of large files may be spread over (storage.conf `sync_max_threads`;
   * absent = 1). Small records always share the first one.
   */
  syncLanes?: number
  /** Idle keepalive interval (heart_beat_interval). */
  heartbeatMs: number
  /** How long a send may make no progress before the connection is dropped (network_timeout); absent = 60 s. */
  networkTimeoutMs?: number
  /** Local address to connect from (storage.conf bind_addr, so peers see our identity); absent = any. */
  localAddress?: string
}

/** Optional callbacks of one sender (the sync manager uses them to report a bootstrapped peer's status). */
export interface SenderHooks {
  /** The sync connection is up (REPORT_SERVER_ID accepted). */
  onConnected?(): void
  /** The peer has everything up to the end of our binlog; `syncOldJustDone` on the first time in sync-old mode. */
  onCaughtUp?(info: { syncOldJustDone: boolean }): void
}

/** Where one peer storage is; `id` names the mark file. */
export interface PeerAddress {
  /** Storage id or ip:port: names the mark file. */
  id: string
  host: string
  port: number
}

/** Progress of one sender (`PeerSender.status()`). */
export interface SenderStatus {
  peer: string
  connected: boolean
  position: BinlogPosition
  /** Bytes of binlog not yet acknowledged by the peer (across rotated binlog files). */
  behindBytes: number
  /** Binlog records after the peer's acknowledged position (wanted or not; parked ones are before it and count in `parked`). */
  behindRecords: number
  /** Source timestamp of the last record the peer acknowledged. */
  lastSyncedTimestamp: number
  parked: number
  sentRecords: number
  /** Sync connections open to the peer now (0 while down; more than 1 while a backlog of large files is spread). */
  connections: number
  /** Sync connections opened to the peer since start (every reconnect and extra lane counts). */
  connectionsOpened: number
}
