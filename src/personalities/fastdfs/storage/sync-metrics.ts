/**
 * Replication gauges of a FastDFS storage for /metrics, computed at scrape time
 * from the sync senders' status: backlog (binlog bytes and records not acknowledged),
 * parked records, seconds since the last acknowledged record's source
 * timestamp, and whether the peer connection is up. Labels: `peer`.
 */
import { addGaugeSource } from '../../../engine/metrics.js'
import type { SenderStatus } from '../sync/sender-types.js'

export function registerSyncMetrics(status: () => SenderStatus[]): void {
  addGaugeSource('tandem_sync_backlog_bytes', 'Binlog bytes not yet acknowledged by each peer', () => status().map((s) => ({ labels: { peer: s.peer }, value: s.behindBytes })))
  addGaugeSource('tandem_sync_backlog_records', 'Binlog records not yet acknowledged by each peer', () => status().map((s) => ({ labels: { peer: s.peer }, value: s.behindRecords })))
  addGaugeSource('tandem_sync_parked_records', 'Records parked for retry per peer', () => status().map((s) => ({ labels: { peer: s.peer }, value: s.parked })))
  addGaugeSource('tandem_sync_sent_records', 'Records acknowledged by each peer since start', () => status().map((s) => ({ labels: { peer: s.peer }, value: s.sentRecords })))
  addGaugeSource('tandem_sync_peer_connected', '1 when the sync connection to the peer is up', () => status().map((s) => ({ labels: { peer: s.peer }, value: s.connected ? 1 : 0 })))
  addGaugeSource('tandem_sync_connections', 'Sync connections open to each peer (more than 1 while a backlog of large files is spread over sync_max_threads)', () => status().map((s) => ({ labels: { peer: s.peer }, value: s.connections })))
  addGaugeSource('tandem_sync_lag_seconds', 'Now minus the source timestamp of the last record each peer acknowledged (0 when idle and caught up)', () => {
    const now = Math.floor(Date.now() / 1000)
    return status().map((s) => ({ labels: { peer: s.peer }, value: s.behindBytes === 0 ? 0 : Math.max(0, now - s.lastSyncedTimestamp) }))
  })
}
