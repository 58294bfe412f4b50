/**
 * `tandem sync-cost`: what binlog push sync costs foreground uploads in our
 * FastDFS personality (issue "FastDFS cluster": sync must not cut foreground
 * upload throughput by more than a third).
 *
 * One group of two storages A and B. Clients upload straight to A (no tracker
 * in the path) for a fixed time, in rounds that alternate two modes:
 * - `sync`: B runs, so every upload on A is pushed to B while the round runs.
 * - `no-sync`: B is stopped with SIGSTOP, so A only appends to its binlog and
 *   its sender waits; after the round B is resumed and the backlog drained
 *   before anything else is measured.
 *
 * It reports, per mode, uploads/s and the CPU each daemon spent per upload.
 * Two ratios answer the question:
 * - throughput with sync ÷ without, on this machine. Here A, B, the tracker and
 *   the client share the same cores, so the sync rounds also pay for B
 *   receiving every file, which a real deployment does on another machine.
 * - A's CPU per upload without sync ÷ with sync: the share of A's capacity left
 *   to foreground uploads once A pushes every file, i.e. the throughput ratio
 *   for a storage bound by its own CPU, as each storage of a real group is.
 * A sync round counts only if the backlog at its end is small, so sync cannot
 * look cheap by falling behind.
 *
 * `pin` (`--pin`) emulates the two machines of a real group on this one: A and
 * the client get CPU 0, B and the tracker CPU 1 (taskset, every thread). Then
 * B's receiving no longer takes CPU from A's uploads, and the throughput ratio
 * measures what a real deployment would see: the sender's own cost on A.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startCluster, type Cluster } from '../deploy/local-cluster.js'
import { FdfsClient } from '../personalities/fastdfs/client/fdfs-client.js'
import { clientConfFor } from '../personalities/fastdfs/client/client-conf.js'
import { parseHostPort } from '../config/conf-file.js'
import { CpuWindow, settle } from './proc-sampler.js'
import { median } from './stats.js'
import { parsePrometheus } from '../engine/metrics.js'
import { spreadInodes } from './fs-probe.js'

/** What `tandem sync-cost` (src/cli/tandem.ts) and its test ask for; absent optional fields take the defaults noted. */
export interface SyncCostOptions {
  seconds: number
  rounds: number
  clients: number
  size: number
  dataDir?: string
  /** Seconds of unmeasured uploads first (JIT, pools); default 3. */
  warmupSec?: number
  /** Wait for a quiet machine before each round (default true; tests turn it off). */
  settle?: boolean
  /** Pin A + this client to CPU 0 and B + the tracker to CPU 1 (two machines on one); default false. */
  pin?: boolean
  progress?: (msg: string) => void
}

/** One measured round. */
export interface SyncCostRound {
  mode: 'sync' | 'no-sync'
  ops: number
  seconds: number
  errors: number
  /** CPU seconds per daemon (A = fdfs_storaged1, B = fdfs_storaged2) and the driver. */
  cpu: Record<string, number>
  /** Binlog records A had not pushed to B when the round ended. */
  backlogRecords: number
}

/** The rounds and the figures derived from them (summarize); printed by formatSyncCost. */
export interface SyncCostResult {
  rounds: SyncCostRound[]
  syncOpsPerSec: number
  noSyncOpsPerSec: number
  /** Median uploads/s with sync ÷ without, on this machine. */
  throughputRatio: number
  /** A's CPU µs per upload, medians. */
  aMicrosSync: number
  aMicrosNoSync: number
  /** B's CPU µs per replicated record (sync rounds). */
  bMicrosPerRecord: number
  /** aMicrosNoSync ÷ aMicrosSync: foreground capacity left to a CPU-bound storage that pushes every upload. */
  cpuBoundRatio: number
  /** Largest backlog (records) seen at the end of a sync round. */
  worstSyncBacklog: number
  /** With `pin`: each process's CPU list as the kernel reports it after pinning (A, B, tracker, driver). */
  affinity?: Record<string, string>
}

/** Summed `tandem_sync_backlog_records` of storage A (its peers are only B). */
async function backlogRecords(metricsUrl: string): Promise<number> {
  const text = await fetch(metricsUrl).then((r) => r.text()).catch(() => '')
  let n = 0
  for (const [k, v] of parsePrometheus(text)) if (k.startsWith('tandem_sync_backlog_records')) n += v
  return n
}

/** Waits until A has pushed everything to B (after a no-sync round), at most `capMs`. */
async function drain(metricsUrl: string, capMs = 60_000): Promise<number> {
  const end = Date.now() + capMs
  let n = await backlogRecords(metricsUrl)
  while (n > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200))
    n = await backlogRecords(metricsUrl)
  }
  return n
}

async function uploadFor(client: FdfsClient, storage: { host: string; port: number }, body: Buffer, clients: number, seconds: number): Promise<{ ops: number; errors: number }> {
  const deadline = Date.now() + seconds * 1000
  let ops = 0
  let errors = 0
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      try {
        await client.upload(body, 'bin', { storage })
        ops++
      } catch {
        if (++errors > 1000) return
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, worker))
  return { ops, errors }
}

/** Bind every thread of `pid` (and threads it starts later) to one CPU; needs taskset (util-linux). */
function pinToCpu(pid: number, cpu: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
  } catch (e) {
    throw new Error(`--pin: taskset could not bind pid ${pid} to CPU ${cpu} (${(e as Error).message})`)
  }
}

/** The CPUs `pid` may run on, as /proc says (`Cpus_allowed_list`, e.g. "0" or "0-1"). */
export function cpusAllowed(pid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? m[1] : '?'
}

/** Deploys a two-storage group, runs the rounds, and tears everything down. */
export async function runSyncCost(o: SyncCostOptions): Promise<SyncCostResult> {
  const progress = o.progress ?? (() => {})
  const dataDir = mkdtempSync(path.join(o.dataDir ?? os.tmpdir(), 'tandem-sync-cost-'))
  spreadInodes(dataDir)
  let cluster: Cluster | undefined
  let client: FdfsClient | undefined
  let stoppedPid: number | undefined
  let affinity: Record<string, string> | undefined
  let pinnedSelf = false
  const ownCpus = cpusAllowed(process.pid)
  try {
    progress('deploying a FastDFS group of two storages ...')
    cluster = await startCluster({ dir: dataDir, anyPorts: true, personalities: ['fastdfs'] })
    const fd = cluster.fastdfs!
    const a = parseHostPort(fd.storages[0], 23000)
    const procA = cluster.procs.find((p) => p.name === 'fdfs_storaged1')!
    const procB = cluster.procs.find((p) => p.name === 'fdfs_storaged2')!
    if (o.pin) {
      if (os.cpus().length < 2) throw new Error('--pin needs at least 2 CPUs')
      const tracker = cluster.procs.find((p) => p.name === 'fdfs_trackerd')!
      pinToCpu(procA.child.pid!, 0)
      pinnedSelf = true
      pinToCpu(process.pid, 0)
      pinToCpu(procB.child.pid!, 1)
      pinToCpu(tracker.child.pid!, 1)
      affinity = { fdfs_storaged1: cpusAllowed(procA.child.pid!), fdfs_storaged2: cpusAllowed(procB.child.pid!), fdfs_trackerd: cpusAllowed(tracker.child.pid!), driver: cpusAllowed(process.pid) }
    }
    const metricsA = `http://127.0.0.1:${procA.metricsPort}/metrics`
    client = new FdfsClient(clientConfFor([parseHostPort(fd.tracker, 22122)], { connectTimeout: 5, networkTimeout: 60 }))
    const body = Buffer.alloc(o.size)
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff
    const storage = { host: a.host, port: a.port }
    const warmup = o.warmupSec ?? 3
    progress(`warm-up (${warmup} s) ...`)
    if (warmup > 0) await uploadFor(client, storage, body, o.clients, warmup)
    await drain(metricsA)
    const pids = new Map(cluster.pids())
    const rounds: SyncCostRound[] = []
    for (let r = 0; r < o.rounds; r++) {
      // Alternate which mode goes first, so neither always follows the other's aftermath.
      const modes: Array<'sync' | 'no-sync'> = r % 2 === 0 ? ['sync', 'no-sync'] : ['no-sync', 'sync']
      for (const mode of modes) {
        if (o.settle !== false) await settle()
        if (mode === 'no-sync') {
          process.kill(procB.child.pid!, 'SIGSTOP')
          stoppedPid = procB.child.pid
        }
        progress(`round ${r + 1}/${o.rounds}: ${mode}, ${o.clients} clients, ${o.seconds} s`)
        const win = new CpuWindow(pids)
        const driver0 = process.cpuUsage()
        const t0 = process.hrtime.bigint()
        win.start()
        const { ops, errors } = await uploadFor(client, storage, body, o.clients, o.seconds)
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9
        const c = win.stop()
        const d = process.cpuUsage(driver0)
        const backlog = await backlogRecords(metricsA)
        if (mode === 'no-sync') {
          process.kill(procB.child.pid!, 'SIGCONT')
          stoppedPid = undefined
          progress(`round ${r + 1}/${o.rounds}: draining ${backlog} records to B ...`)
          const left = await drain(metricsA)
          if (left > 0) throw new Error(`B did not catch up after a no-sync round (${left} records left)`)
        }
        const cpu = Object.fromEntries(Object.entries(c.perProcess).map(([k, v]) => [k, v.cpuSeconds]))
        cpu.driver = (d.user + d.system) / 1e6
        rounds.push({ mode, ops, seconds, errors, cpu, backlogRecords: backlog })
      }
    }
    return { ...summarize(rounds), affinity }
  } finally {
    // The daemons go away; this process lives on (a test runner, say) and gets its CPUs back.
    if (pinnedSelf) execFileSync('taskset', ['-a', '-p', '-c', ownCpus, String(process.pid)], { stdio: 'ignore' })
    if (stoppedPid) {
      try {
        process.kill(stoppedPid, 'SIGCONT')
      } catch {
        // already gone
      }
    }
    client?.close()
    await cluster?.stop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * Medians per mode, and the two ratios as medians of per-round ratios. Why per
 * round: the two modes of a round run back to back, while the machine drifts
 * over a run (the data disk fills, the page cache grows into memory the VM has
 * not touched yet), so a pair is compared under the same conditions; a ratio
 * of medians taken across rounds mixes early fast rounds with late slow ones.
 * Rounds missing a mode give NaN figures.
 */
export function summarize(rounds: SyncCostRound[]): SyncCostResult {
  const of = (m: 'sync' | 'no-sync') => rounds.filter((r) => r.mode === m)
  const rate = (r: SyncCostRound) => r.ops / r.seconds
  const aUs = (r: SyncCostRound) => (r.cpu.fdfs_storaged1 / Math.max(1, r.ops)) * 1e6
  const pairs: Array<[SyncCostRound, SyncCostRound]> = []
  for (let i = 0; i + 1 < rounds.length; i += 2) {
    const [x, y] = [rounds[i], rounds[i + 1]]
    if (x.mode !== y.mode) pairs.push(x.mode === 'sync' ? [x, y] : [y, x])
  }
  return {
    rounds,
    syncOpsPerSec: median(of('sync').map(rate)),
    noSyncOpsPerSec: median(of('no-sync').map(rate)),
    throughputRatio: median(pairs.map(([s, n]) => rate(s) / rate(n))),
    aMicrosSync: median(of('sync').map(aUs)),
    aMicrosNoSync: median(of('no-sync').map(aUs)),
    bMicrosPerRecord: median(of('sync').map((r) => (r.cpu.fdfs_storaged2 / Math.max(1, r.ops)) * 1e6)),
    cpuBoundRatio: median(pairs.map(([s, n]) => aUs(n) / aUs(s))),
    worstSyncBacklog: Math.max(0, ...of('sync').map((r) => r.backlogRecords)),
  }
}

/** The result as a markdown table plus the two ratios. */
export function formatSyncCost(res: SyncCostResult, o: SyncCostOptions, command: string): string {
  const out: string[] = []
  out.push(`# Sync cost: ${o.size} B uploads straight to storage A, ${o.clients} clients, ${o.rounds} rounds of ${o.seconds} s per mode`)
  out.push('')
  out.push('```', command, '```', '')
  out.push('| round | mode | uploads/s | errors | A µs/upload | B µs/upload | tracker s | driver s | A backlog at end |')
  out.push('|---|---|---|---|---|---|---|---|---|')
  res.rounds.forEach((r, i) => {
    const us = (k: string) => ((r.cpu[k] / Math.max(1, r.ops)) * 1e6).toFixed(0)
    out.push(`| ${Math.floor(i / 2) + 1} | ${r.mode} | ${(r.ops / r.seconds).toFixed(0)} | ${r.errors} | ${us('fdfs_storaged1')} | ${us('fdfs_storaged2')} | ${(r.cpu.fdfs_trackerd ?? 0).toFixed(2)} | ${r.cpu.driver.toFixed(2)} | ${r.backlogRecords} |`)
  })
  out.push('')
  const where = o.pin
    ? 'with A and the client pinned to CPU 0 and B and the tracker to CPU 1 (two machines emulated: B\'s receiving does not take CPU from A)'
    : `on this machine (A, B, tracker and client share ${os.cpus().length} cores, so the sync rounds also pay for B receiving every file)`
  out.push(`- uploads/s, medians: ${res.syncOpsPerSec.toFixed(0)} with sync, ${res.noSyncOpsPerSec.toFixed(0)} with B stopped; with sync ÷ without, median of the per-round ratios: **ratio ${res.throughputRatio.toFixed(2)}** ${where}.`)
  out.push(`- A's CPU per upload, medians: ${res.aMicrosSync.toFixed(0)} µs with sync, ${res.aMicrosNoSync.toFixed(0)} µs without; per-round median: **ratio ${res.cpuBoundRatio.toFixed(2)}** of a CPU-bound storage's upload capacity is left once it pushes every upload.`)
  // Kept up = at most ~200 ms of uploads (or 100 records) unacknowledged when a sync round ended.
  const keptUp = res.worstSyncBacklog <= Math.max(100, 0.2 * res.syncOpsPerSec)
  out.push(`- B spends ${res.bMicrosPerRecord.toFixed(0)} µs of CPU per replicated upload; the largest backlog at the end of a sync round was ${res.worstSyncBacklog} records (${keptUp ? 'sync kept up' : '**sync fell behind: the sync figures flatter it**'}).`)
  return out.join('\n') + '\n'
}
