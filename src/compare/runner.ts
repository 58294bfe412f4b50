/**
 * The compare runner: executes a scenario against several targets, alternating
 * targets within each repetition so slow drifts of the machine hit all of them
 * alike, and records throughput, latency, errors, CPU and RSS per cell.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { logger } from '../log.js'
import type { CellResult, LagResult, RepResult, Report } from './report.js'
import { CpuWindow, settle } from './proc-sampler.js'
import { LatencyRecorder } from './stats.js'
import { parsePrometheus } from '../engine/metrics.js'
import type { Target } from './target.js'

const log = logger('compare.runner')

export interface Scenario {
  name: string
  description?: string
  /** Seconds per measured run. */
  durationSec: number
  reps: number
  sizes: number[]
  clients: number[]
  ops: Array<'upload' | 'download' | 'delete' | 'mixed'>
  /** Fraction of reads in the mixed workload (default 0.9). */
  readRatio?: number
  /** Replication-lag probes: sizes and samples per size. */
  lag?: { sizes: number[]; samples: number }
  /** Larger sizes listed here only run with the first client count (64 MiB × 32 clients would take minutes). */
  bigSizeLimit?: number
  /** Unmeasured upload+download pairs per target and size before its first cell (default: up to 200, fewer for big files). */
  warmup?: number
  /** ...and for at least this many seconds (default 3; capped at WARMUP_MAX_BYTES of uploads). */
  warmupSec?: number
  /** Wait for a quiet machine (< 0.3 cores busy, at most 30 s) before each measured cell (default true). */
  settle?: boolean
}

export interface Progress {
  (msg: string): void
}

/** Upper bound of the time-based part of a warm-up, in uploaded bytes per target and size. */
const WARMUP_MAX_BYTES = 256 * 2 ** 20

/** Incompressible bytes, made once per size and reused by every upload. */
function payload(size: number): Buffer {
  return randomBytes(size)
}

interface RunState {
  ids: Map<string, string[]>
}

async function measure(
  t: Target,
  op: string,
  size: number,
  clients: number,
  durationSec: number,
  body: Buffer,
  ids: string[],
  readRatio: number,
): Promise<RepResult> {
  const lat = new LatencyRecorder()
  let ops = 0
  let bytes = 0
  let errors = 0
  const cpu = new CpuWindow(t.pids())
  const deadline = Date.now() + durationSec * 1000
  const start = process.hrtime.bigint()
  const driver0 = process.cpuUsage()
  cpu.start()
  let cursor = 0
  const nextId = (): string | undefined => (ids.length ? ids[cursor++ % ids.length] : undefined)
  const firstNew = ids.length
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint()
      try {
        let kind = op
        if (op === 'mixed') kind = Math.random() < readRatio && ids.length ? 'download' : 'upload'
        if (kind === 'upload') {
          const id = await t.upload(body)
          ids.push(id)
          bytes += size
        } else if (kind === 'download') {
          const id = nextId()
          if (!id) throw new Error('nothing to download')
          // Not `bytes += await ...`: that reads `bytes` before the await and loses concurrent updates.
          const n = await t.download(id)
          bytes += n
        } else if (kind === 'delete') {
          const id = ids.pop()
          if (!id) break
          await t.delete(id)
        }
        ops++
        lat.add(Number(process.hrtime.bigint() - t0) / 1e6)
      } catch (e) {
        errors++
        if (errors <= 3) log.warn({ err: e, target: t.name, op }, 'operation failed')
        if (errors > 1000) break
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, worker))
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const c = cpu.stop()
  const d = process.cpuUsage(driver0)
  c.perProcess['driver'] = { cpuSeconds: (d.user + d.system) / 1e6, peakRssBytes: process.memoryUsage().rss }
  const replicatedSeconds = op === 'upload' ? await tailReplicated(t, ids.slice(firstNew), start) : undefined
  return {
    replicatedSeconds,
    ops,
    bytes,
    seconds,
    errors,
    p50: lat.percentile(50),
    p99: lat.percentile(99),
    cpu: Object.fromEntries(Object.entries(c.perProcess).map(([k, v]) => [k, v.cpuSeconds])),
    peakRss: Object.fromEntries(Object.entries(c.perProcess).map(([k, v]) => [k, v.peakRssBytes])),
    machineBusySeconds: c.machineBusySeconds,
  }
}

async function lagProbe(t: Target, size: number, samples: number): Promise<LagResult> {
  const res: LagResult = { target: t.name, size, samples: [], errors: 0 }
  if (!t.waitSecondCopy) return res
  const body = payload(size)
  for (let i = 0; i < samples; i++) {
    try {
      const id = await t.upload(body)
      const t0 = process.hrtime.bigint()
      await t.waitSecondCopy(id, 10_000)
      res.samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
      await t.delete(id).catch(() => {})
    } catch (e) {
      res.errors++
      log.warn({ err: e, target: t.name }, 'lag probe failed')
    }
    // Spaced probes, as the reference measurement (100-300 ms gaps) did.
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30))
  }
  return res
}

/**
 * How many of the rep's last uploads are checked for a second copy. Why 32: more than the
 * largest client count of the standard scenarios, so the last upload of every client (and so of
 * every storage the tracker spread them over) is among them.
 */
const TAIL_CHECK = 32
/** Why 120 s: the real MogileFS replicates ~16 small files/s per worker, so a 3 s burst of 32 clients takes about a minute to drain. */
const TAIL_TIMEOUT_MS = 120_000

/**
 * Seconds from the start of an upload rep until its last uploads all have a second copy, or
 * undefined (the target cannot tell, or a copy did not appear in time). This is the rep's
 * throughput "with two copies": a system that acknowledges uploads first and replicates later
 * (the real FastDFS flushes its binlog once a second, the real MogileFS queues the copy) is
 * charged for the replication it still owed when the rep ended, as the issues' reference figures
 * ("uploads include replication to the second storage") are.
 */
async function tailReplicated(t: Target, repIds: string[], start: bigint): Promise<number | undefined> {
  if (!t.waitSecondCopy || !repIds.length) return undefined
  try {
    for (const id of repIds.slice(-TAIL_CHECK)) await t.waitSecondCopy(id, TAIL_TIMEOUT_MS)
    return Number(process.hrtime.bigint() - start) / 1e9
  } catch (e) {
    log.warn({ err: e, target: t.name }, 'second copies of the last uploads did not appear in time')
    return undefined
  }
}

/**
 * Replication state read from the target's daemons' /metrics right after a rep: the summed
 * backlog (FastDFS binlog bytes not acknowledged by peers, MogileFS queued fids) and the worst
 * per-peer sync lag in seconds (FastDFS). Undefined when the target exposes no such series.
 */
async function replicationState(t: Target): Promise<{ backlog?: number; lagSec?: number }> {
  const urls = t.metricsUrls?.() ?? []
  let backlog: number | undefined
  let lagSec: number | undefined
  for (const u of urls) {
    const text = await fetch(u).then((r) => r.text()).catch(() => '')
    for (const [k, v] of parsePrometheus(text)) {
      if (k.startsWith('tandem_sync_backlog_bytes') || k.startsWith('tandem_mogilefs_replication_queue')) backlog = (backlog ?? 0) + v
      if (k.startsWith('tandem_sync_lag_seconds')) lagSec = Math.max(lagSec ?? 0, v)
    }
  }
  return { backlog, lagSec }
}

/** Run `scenario` against `targets`; returns the report (not yet written). */
export async function runScenario(scenario: Scenario, targets: Target[], command: string, progress: Progress): Promise<Report> {
  const report: Report = {
    startedAt: new Date().toISOString(),
    command,
    scenario: scenario.name,
    machine: { cpus: os.cpus().length, node: process.version, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    cells: [],
    lags: [],
    warnings: [],
  }
  const state: RunState = { ids: new Map() }
  try {
    await runCells(scenario, targets, state, report, progress)
  } finally {
    await cleanUp(targets, state, report, progress)
  }
  return report
}

/**
 * Delete, unmeasured, every object a run left on the targets that ask for it (external clusters,
 * Target.cleanUp), also after a failed run. Failures become a report warning, not an error.
 */
async function cleanUp(targets: Target[], state: RunState, report: Report, progress: Progress): Promise<void> {
  for (const t of targets) {
    if (!t.cleanUp) continue
    const all = [...state.ids].filter(([k]) => k.startsWith(`${t.name}|`)).flatMap(([, v]) => v)
    if (!all.length) continue
    progress(`cleaning up: deleting the ${all.length} objects this run left on ${t.name}`)
    let next = 0
    let failed = 0
    const worker = async () => {
      while (next < all.length) await t.delete(all[next++]).catch(() => failed++)
    }
    // Why 8: fast enough for tens of thousands of small objects, gentle on a cluster others may use.
    await Promise.all(Array.from({ length: 8 }, worker))
    if (failed) report.warnings.push(`${t.name}: ${failed} of the ${all.length} objects this run uploaded could not be deleted`)
    for (const [k, v] of state.ids) if (k.startsWith(`${t.name}|`)) v.length = 0
  }
}

async function runCells(scenario: Scenario, targets: Target[], state: RunState, report: Report, progress: Progress): Promise<void> {
  const readRatio = scenario.readRatio ?? 0.9
  const ordered = ['upload', 'download', 'mixed', 'delete'].filter((o) => scenario.ops.includes(o as never))
  const clientsOf = (size: number) => (scenario.bigSizeLimit && size > scenario.bigSizeLimit ? scenario.clients.slice(0, 1) : scenario.clients)
  const cellsTotal = scenario.sizes.reduce((a, size) => a + clientsOf(size).length, 0) * ordered.length * targets.length * scenario.reps
  let done = 0
  for (const size of scenario.sizes) {
    const body = payload(size)
    const clientsFor = clientsOf(size)
    for (const op of ordered) {
      for (const clients of clientsFor) {
        const cells = new Map(targets.map((t) => [t.name, { target: t.name, op, size, clients, reps: [] as RepResult[] } satisfies CellResult]))
        for (let rep = 0; rep < scenario.reps; rep++) {
          // Rotate the order each rep so no target always runs first.
          const order = targets.map((_, i) => targets[(i + rep) % targets.length])
          for (const t of order) {
            const key = `${t.name}|${size}`
            if (!state.ids.has(key)) {
              state.ids.set(key, [])
              // Unmeasured warm-up per target and size (JIT, connection pools, page cache),
              // so the first measured cell is not a cold start for some targets only.
              // At least `n` pairs and at least warmupSec seconds (within WARMUP_MAX_BYTES): our
              // daemons need a few seconds of load before V8 has compiled their hot paths.
              const n = scenario.warmup ?? Math.max(2, Math.min(200, Math.floor(64 * 2 ** 20 / size)))
              const minMs = (scenario.warmupSec ?? 3) * 1000
              const t0 = Date.now()
              progress(`warm-up ${t.name} ${size}B × ${n}+ (${minMs / 1000} s)`)
              for (let i = 0; i < n || (Date.now() - t0 < minMs && (i + 1) * size <= WARMUP_MAX_BYTES); i++) {
                const id = await t.upload(body)
                await t.download(id)
                state.ids.get(key)!.push(id)
              }
            }
            const ids = state.ids.get(key)!
            // Unmeasured preload so reads have something to read and deletes something to delete.
            const need = op === 'delete' ? clients * 20 : op === 'download' || op === 'mixed' ? Math.max(clients, 8) : 0
            while (ids.length < need) ids.push(await t.upload(body))
            progress(`[${++done}/${cellsTotal}] ${t.name} ${op} ${size}B × ${clients} (rep ${rep + 1}/${scenario.reps})`)
            if (scenario.settle !== false) {
              const busy = await settle()
              if (busy >= 0.3) report.warnings.push(`${t.name} ${op} ${size}B×${clients} rep ${rep + 1}: started on a busy machine (${busy.toFixed(2)} cores after 30 s of waiting)`)
            }
            const r = await measure(t, op, size, clients, scenario.durationSec, body, ids, readRatio)
            if (op === 'upload' || op === 'mixed') {
              const st = await replicationState(t)
              r.replBacklog = st.backlog
              r.replLagSec = st.lagSec
            }
            cells.get(t.name)!.reps.push(r)
            // Everything the machine did beyond our daemons and this driver is "foreign" load.
            const ours = Object.values(r.cpu).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0)
            const foreign = r.machineBusySeconds - ours
            if (foreign / r.seconds > 0.5 && t.pids().size) {
              report.warnings.push(`${t.name} ${op} ${size}B×${clients} rep ${rep + 1}: machine busy beyond the daemons and driver (${(foreign / r.seconds).toFixed(2)} cores)`)
            }
          }
        }
        report.cells.push(...cells.values())
      }
    }
  }
  if (scenario.lag) {
    for (const size of scenario.lag.sizes) {
      for (const t of targets) {
        progress(`lag ${t.name} ${size}B × ${scenario.lag.samples}`)
        report.lags.push(await lagProbe(t, size, scenario.lag.samples))
      }
    }
  }
}
