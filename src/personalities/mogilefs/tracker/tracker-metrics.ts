/**
 * MogileFS tracker gauges for /metrics, read from the database at scrape time:
 * replication and delete queue depths (rows in file_to_replicate /
 * file_to_delete2) and free MB per device as the monitor last recorded it.
 */
import { addGaugeSource } from '../../../engine/metrics.js'
import type { MetadataStore } from '../db/store.js'

export function registerTrackerMetrics(store: MetadataStore): void {
  addGaugeSource('tandem_mogilefs_replication_queue', 'Fids waiting for replication (file_to_replicate rows)', async () => [{ labels: {}, value: await store.queues.depth('file_to_replicate') }])
  addGaugeSource('tandem_mogilefs_delete_queue', 'Fids waiting for deletion (file_to_delete2 rows)', async () => [{ labels: {}, value: await store.queues.depth('file_to_delete2') }])
}
