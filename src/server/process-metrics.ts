/**
 * The one Metrics registry of a daemon process, plus the standard series every
 * protocol front end reports. Front ends call `countRequest` per command;
 * storage code calls `countBytes`; replication reports lag/backlog through
 * `gaugeFn`. Served on `metrics_port` (a tandemfs key in each daemon's conf;
 * absent or 0 = no /metrics listener).
 */
import { processMetrics } from '../engine/metrics.js'
import { serveMetrics, type MetricsServer } from './metrics-http.js'
import { installRuntimeMetrics } from './runtime-metrics.js'

export const metrics = processMetrics

/** Count one request of `proto` (fastdfs-tracker, fastdfs-storage, mogilefs-tracker, mogstored) and its outcome. */
export function countRequest(proto: string, cmd: string | number, ok: boolean): void {
  // One label object per (proto, cmd): the registry renders its key once (hot path).
  const k = `${proto}\0${cmd}`
  let labels = labelSets.get(k)
  if (!labels) {
    labels = { proto, cmd }
    labelSets.set(k, labels)
  }
  metrics.inc('tandem_requests_total', 'Requests by protocol and command', labels)
  if (!ok) metrics.inc('tandem_request_errors_total', 'Failed requests by protocol and command', labels)
}

const labelSets = new Map<string, { proto: string; cmd: string | number }>()

/** Bytes moved by a front end, `dir` = in (uploads, replicas received) or out (downloads, replicas sent). */
export function countBytes(proto: string, dir: 'in' | 'out', n: number): void {
  // Same reuse as countRequest: a fresh label object per call would be rendered per call.
  const k = `${proto}\0${dir}`
  let labels = byteLabelSets.get(k)
  if (!labels) {
    labels = { proto, dir }
    byteLabelSets.set(k, labels)
  }
  metrics.inc('tandem_bytes_total', 'Bytes transferred by protocol and direction', labels, n)
}

const byteLabelSets = new Map<string, { proto: string; dir: 'in' | 'out' }>()

/** Start the /metrics listener when a port is configured; resolves undefined otherwise. */
export async function startMetricsServer(host: string, port: number | undefined): Promise<MetricsServer | undefined> {
  if (!port) return undefined
  installRuntimeMetrics()
  return serveMetrics(metrics, host, port)
}
