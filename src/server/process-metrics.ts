/**
 * The one Metrics registry of a daemon process, plus the standard series every
 * protocol front end reports. Front ends call `countRequest` per command;
 * storage code calls `countBytes`; replication reports lag/backlog through
 * `gaugeFn`. Served on `metrics_port` (a tandemfs key in each daemon's conf;
 * absent or 0 = no /metrics listener).
 */
import { processMetrics, type Counter } from '../engine/metrics.js'
import { serveMetrics, type MetricsServer } from './metrics-http.js'
import { installRuntimeMetrics } from './runtime-metrics.js'

export const metrics = processMetrics

/** Count one request of `proto` (fastdfs-tracker, fastdfs-storage, mogilefs-tracker, mogstored) and its outcome. */
export function countRequest(proto: string, cmd: string | number, ok: boolean): void {
  // Bound counters per (proto, cmd), found with one map lookup (hot path: every request).
  let byCmd = requestCounters.get(proto)
  if (!byCmd) {
    byCmd = new Map()
    requestCounters.set(proto, byCmd)
  }
  let c = byCmd.get(cmd)
  if (!c) {
    const labels = { proto, cmd }
    c = {
      all: metrics.counter('tandem_requests_total', 'Requests by protocol and command', labels),
      failed: metrics.counter('tandem_request_errors_total', 'Failed requests by protocol and command', labels),
    }
    byCmd.set(cmd, c)
  }
  c.all.inc()
  if (!ok) c.failed.inc()
}

const requestCounters = new Map<string, Map<string | number, { all: Counter; failed: Counter }>>()

/** Bytes moved by a front end, `dir` = in (uploads, replicas received) or out (downloads, replicas sent). */
export function countBytes(proto: string, dir: 'in' | 'out', n: number): void {
  const k = `${proto}\0${dir}`
  let c = byteCounters.get(k)
  if (!c) {
    c = metrics.counter('tandem_bytes_total', 'Bytes transferred by protocol and direction', { proto, dir })
    byteCounters.set(k, c)
  }
  c.inc(n)
}

const byteCounters = new Map<string, Counter>()

/** Start the /metrics listener when a port is configured; resolves undefined otherwise. */
export async function startMetricsServer(host: string, port: number | undefined): Promise<MetricsServer | undefined> {
  if (!port) return undefined
  installRuntimeMetrics()
  return serveMetrics(metrics, host, port)
}
