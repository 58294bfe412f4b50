/**
 * The process and Node runtime series operators expect next to a daemon's own
 * (the names prom-client uses, so existing dashboards work): CPU seconds, RSS,
 * V8 heap, event-loop delay, GC pauses, start time.
 *
 * Called once by `startMetricsServer` when a daemon serves /metrics; a daemon
 * without a metrics port pays nothing. Everything but the event-loop delay and
 * the GC counter is read at scrape time.
 */
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks'
import { addGaugeSource, processMetrics } from '../engine/metrics.js'

let installed = false

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

export function installRuntimeMetrics(): void {
  if (installed) return
  installed = true
  const startSec = Math.floor(Date.now() / 1000 - process.uptime())
  addGaugeSource('process_cpu_seconds_total', 'User and system CPU seconds of this process', () => {
    const u = process.cpuUsage()
    return [{ labels: {}, value: (u.user + u.system) / 1e6 }]
  }, 'counter')
  addGaugeSource('process_resident_memory_bytes', 'Resident set size in bytes', () => [{ labels: {}, value: process.memoryUsage.rss() }])
  addGaugeSource('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds', () => [{ labels: {}, value: startSec }])
  addGaugeSource('nodejs_heap_used_bytes', 'V8 heap in use', () => [{ labels: {}, value: process.memoryUsage().heapUsed }])

  // Why a 20 ms resolution: a stall long enough to hurt clients shows up, and 50 timer
  // wakeups a second cost well under 0.1% of a core. The histogram restarts at every scrape,
  // so the percentiles describe the last scrape interval.
  const h = monitorEventLoopDelay({ resolution: 20 })
  h.enable()
  addGaugeSource('nodejs_eventloop_lag_seconds', 'Event loop delay since the previous scrape, by quantile (sampled every 20 ms)', () => {
    const out = h.count
      ? [
          { labels: { quantile: '0.5' }, value: h.percentile(50) / 1e9 },
          { labels: { quantile: '0.99' }, value: h.percentile(99) / 1e9 },
          { labels: { quantile: '1' }, value: h.max / 1e9 },
        ]
      : []
    h.reset()
    return out
  })

  // GC pauses: one observer callback per collection (tens a second under load at most).
  const gc = (kind: string, seconds: number, runs: number) => {
    processMetrics.inc('nodejs_gc_duration_seconds_total', 'Time spent in garbage collection pauses, by kind', gcLabels(kind), seconds)
    processMetrics.inc('nodejs_gc_runs_total', 'Garbage collections, by kind', gcLabels(kind), runs)
  }
  for (const kind of ['minor', 'major']) gc(kind, 0, 0) // the series exist before the first collection
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc(GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other', e.duration / 1000, 1)
  })
  obs.observe({ entryTypes: ['gc'] })
  // The observer must not keep a stopping daemon alive.
  ;(obs as unknown as { unref?: () => void }).unref?.()
}

/** One label object per kind: the registry renders reused label objects once (metrics.ts). */
const gcLabelSets = new Map<string, { kind: string }>()
function gcLabels(kind: string): { kind: string } {
  let l = gcLabelSets.get(kind)
  if (!l) gcLabelSets.set(kind, (l = { kind }))
  return l
}
