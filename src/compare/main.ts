/**
 * `npm run compare` / `tandem compare`: deploy our personalities (FastDFS,
 * MogileFS on SQLite, and on MySQL when reachable or given), add any external
 * cluster named on the command line, run one scenario against all of them and
 * write compare/results/<timestamp>/report.{md,html,json}.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { startCluster, stopClustersOnSignal, type Cluster } from '../deploy/local-cluster.js'
import { writeReport } from './report.js'
import { probeCreateMicros, probeWriteMsPerMiB, SLOW_CREATE_MICROS, SLOW_WRITE_MS_PER_MIB, spreadInodes } from './fs-probe.js'
import { runScenario, type Scenario } from './runner.js'
import { FastdfsTarget, MogilefsTarget } from './targets.js'
import { localPids } from './local-pids.js'
import type { Target } from './target.js'

export const COMPARE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../compare')

export function loadScenario(nameOrPath: string): Scenario {
  const file = existsSync(nameOrPath) ? nameOrPath : path.join(COMPARE_DIR, 'scenarios', `${nameOrPath}.json`)
  const s = JSON.parse(readFileSync(file, 'utf8')) as Scenario
  for (const k of ['name', 'durationSec', 'reps', 'sizes', 'clients', 'ops'] as const) {
    if (s[k] === undefined) throw new Error(`scenario ${file}: missing "${k}"`)
  }
  return s
}

async function mysqlReachable(url: string): Promise<boolean> {
  try {
    const u = new URL(url)
    const mysql = await import('mysql2/promise')
    const c = await mysql.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password), connectTimeout: 2000 })
    await c.end()
    return true
  } catch {
    return false
  }
}

/** /metrics URLs of a cluster's daemons whose name starts with `prefix`. */
function metricsOf(c: Cluster, prefix: string): () => string[] {
  return () => c.procs.filter((p) => p.name.startsWith(prefix) && p.metricsPort).map((p) => `http://127.0.0.1:${p.metricsPort}/metrics`)
}

async function dropDatabase(url: string): Promise<void> {
  const u = new URL(url)
  const mysql = await import('mysql2/promise')
  const c = await mysql.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password) })
  await c.query(`DROP DATABASE IF EXISTS \`${u.pathname.slice(1).replace(/`/g, '')}\``)
  await c.end()
}

export interface CompareOptions {
  scenario: string
  quick?: boolean
  mysql?: string
  noMysql?: boolean
  fastdfsTracker?: string[]
  /** Further external FastDFS clusters, one per entry: its trackers, comma-separated (`--fastdfs-cluster`). */
  fastdfsCluster?: string[]
  mogilefsTracker?: string[]
  domain?: string
  class?: string
  only?: string
  out?: string
  /** Where the tandem clusters keep their data (default: the OS temp dir). */
  dataDir?: string
  /** No progress output (tests). */
  quiet?: boolean
  /** Leave what the run uploaded on the external clusters (default: delete it when the run ends). */
  keepData?: boolean
}

/**
 * The external FastDFS clusters to measure, each as its tracker list: every `--fastdfs-tracker`
 * together (the trackers of one cluster), then one per `--fastdfs-cluster` (comma-separated
 * trackers). Two clusters measured in one run is how two builds of ours are compared side by side.
 */
export function fastdfsClusters(o: Pick<CompareOptions, 'fastdfsTracker' | 'fastdfsCluster'>): string[][] {
  const out: string[][] = []
  if (o.fastdfsTracker?.length) out.push(o.fastdfsTracker)
  for (const c of o.fastdfsCluster ?? []) {
    const trackers = c.split(',').map((x) => x.trim()).filter(Boolean)
    if (trackers.length) out.push(trackers)
  }
  const names = out.map((t) => t[0])
  if (new Set(names).size !== names.length) throw new Error(`two external FastDFS clusters named by the same tracker: ${names.join(', ')}`)
  return out
}

/** Runs the comparison; returns the results directory. */
export async function runCompare(o: CompareOptions, command: string): Promise<{ dir: string; md: string }> {
  const scenario = loadScenario(o.quick ? 'quick' : o.scenario)
  const only = o.only ? new Set(o.only.split(',')) : undefined
  const want = (name: string) => !only || only.has(name)
  const tty = process.stderr.isTTY
  const progress = (msg: string) => {
    if (o.quiet) return
    if (tty) process.stderr.write(`\r\x1b[K${msg}`)
    else process.stderr.write(`${msg}\n`)
  }
  const clusters: Cluster[] = []
  const targets: Target[] = []
  const dataDir = mkdtempSync(path.join(o.dataDir ?? os.tmpdir(), 'tandem-compare-'))
  const spread = spreadInodes(dataDir)
  const createUs = probeCreateMicros(dataDir)
  const writeMs = probeWriteMsPerMiB(dataDir)
  let dropAfter: string | undefined
  try {
    if (want('tandem-fastdfs') || want('tandem-mogilefs-sqlite')) {
      progress('deploying tandemfs (FastDFS + MogileFS/SQLite) ...')
      const personalities: Array<'fastdfs' | 'mogilefs'> = []
      if (want('tandem-fastdfs')) personalities.push('fastdfs')
      if (want('tandem-mogilefs-sqlite')) personalities.push('mogilefs')
      const c = await startCluster({ dir: path.join(dataDir, 'sqlite'), anyPorts: true, personalities })
      clusters.push(c)
      const pidsOf = (prefix: string) => () => new Map([...c.pids()].filter(([n]) => n.startsWith(prefix)))
      if (c.fastdfs) targets.push(new FastdfsTarget('tandem-fastdfs', [c.fastdfs.tracker], pidsOf('fdfs'), metricsOf(c, 'fdfs')))
      if (c.mogilefs) targets.push(new MogilefsTarget('tandem-mogilefs-sqlite', [c.mogilefs.tracker], c.mogilefs.domain, c.mogilefs.klass, pidsOf('mog'), metricsOf(c, 'mog')))
    }
    // A fresh database per run (dropped at the end) unless the user named one.
    const mysqlUrl = o.mysql ?? `mysql://root@127.0.0.1:3306/tandem_compare_${process.pid}_${Date.now().toString(36)}`
    if (!o.mysql) dropAfter = mysqlUrl
    if (want('tandem-mogilefs-mysql') && !o.noMysql && (await mysqlReachable(mysqlUrl))) {
      progress('deploying tandemfs (MogileFS/MySQL) ...')
      const c = await startCluster({ dir: path.join(dataDir, 'mysql'), anyPorts: true, personalities: ['mogilefs'], mysql: mysqlUrl })
      clusters.push(c)
      targets.push(new MogilefsTarget('tandem-mogilefs-mysql', [c.mogilefs!.tracker], c.mogilefs!.domain, c.mogilefs!.klass, () => c.pids(), metricsOf(c, 'mog')))
    }
    // External clusters keep what a run uploads unless the runner deletes it (--keep-data: leave it).
    // An external cluster's daemons that run on this machine are sampled like ours (CPU per op
    // side by side); found once, by the addresses the cluster itself lists.
    const externalPids = async (t: { name: string; daemonAddresses(): Promise<Array<{ name: string; host: string; port: number }>> }, into: Map<string, number>) => {
      try {
        for (const [k, v] of localPids(await t.daemonAddresses())) into.set(k, v)
      } catch (e) {
        progress(`${t.name}: could not list its daemons (${(e as Error).message}); its CPU is not reported`)
      }
      if (into.size) progress(`${t.name}: sampling local daemons ${[...into].map(([k, v]) => `${k}=${v}`).join(', ')}`)
    }
    for (const trackers of fastdfsClusters(o)) {
      const pids = new Map<string, number>()
      const t = new FastdfsTarget(`fastdfs@${trackers[0]}`, trackers, () => pids)
      t.cleanUp = !o.keepData
      await externalPids(t, pids)
      targets.push(t)
    }
    if (o.mogilefsTracker?.length) {
      if (!o.domain) throw new Error('--mogilefs-tracker needs --domain')
      const pids = new Map<string, number>()
      const t = new MogilefsTarget(`mogilefs@${o.mogilefsTracker[0]}`, o.mogilefsTracker, o.domain, o.class ?? '', () => pids)
      t.cleanUp = !o.keepData
      await externalPids(t, pids)
      targets.push(t)
    }
    if (!targets.length) throw new Error('no targets selected')
    const report = await runScenario(scenario, targets, command, progress)
    report.machine.createMicros = Math.round(createUs)
    report.machine.writeMsPerMiB = Math.round(writeMs * 100) / 100
    if (writeMs > SLOW_WRITE_MS_PER_MIB) {
      report.warnings.push(
        `writing new data in ${dataDir} cost ${writeMs.toFixed(1)} ms of CPU per MiB before the run (warm memory: ~0.3 ms): ` +
          'this VM pays for every page-cache page on memory it has not touched lately, so large-file cells measure that, and the target that writes more bytes inside a rep (replicating during it rather than after) pays more',
      )
    }
    if (createUs > SLOW_CREATE_MICROS) {
      report.warnings.push(
        `creating a file in ${dataDir} cost ${Math.round(createUs)} µs before the run (a quiet ext4 takes 15–60 µs${spread ? '' : '; chattr +T failed'}): ` +
          'file-creating cells of the tandem targets are skewed by a recent mass delete on this filesystem (ext4 without a journal skips recently freed inodes one by one); wait 5 minutes or pass --data-dir on another filesystem',
      )
    }
    if (tty) process.stderr.write('\n')
    const stamp = report.startedAt.replace(/[:.]/g, '-')
    const out = writeReport(report, o.out ?? path.join(COMPARE_DIR, 'results', stamp))
    return out
  } finally {
    for (const t of targets) await t.close().catch(() => {})
    for (const c of clusters) await c.stop().catch(() => {})
    if (dropAfter) await dropDatabase(dropAfter).catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
}

export async function compareMain(args: string[]): Promise<number> {
  const collect = (v: string, prev: string[] = []) => [...prev, v]
  const program = new Command('compare')
    .description('run the same workload against our FastDFS and MogileFS personalities (and any external cluster)')
    .option('--scenario <name|file>', 'scenario name in compare/scenarios or a JSON file', 'standard')
    .option('--quick', 'the quick scenario (under a minute)')
    .option('--mysql <url>', 'MySQL for the MogileFS/MySQL target', undefined)
    .option('--no-mysql', 'skip the MogileFS/MySQL target')
    .option('--fastdfs-tracker <host:port>', 'also measure an external FastDFS cluster (repeat for each of its trackers)', collect)
    .option('--fastdfs-cluster <host:port,...>', 'also measure another external FastDFS cluster, given by its trackers (repeatable: one cluster each)', collect)
    .option('--mogilefs-tracker <host:port>', 'also measure an external MogileFS cluster (repeatable)', collect)
    .option('--domain <domain>', 'MogileFS domain for --mogilefs-tracker')
    .option('--class <class>', 'MogileFS class for --mogilefs-tracker')
    .option('--data-dir <dir>', 'parent directory for the tandem clusters\' data (default: the OS temp dir)')
    .option('--only <targets>', 'comma-separated subset: tandem-fastdfs, tandem-mogilefs-sqlite, tandem-mogilefs-mysql (none: only the external clusters)')
    .option('--out <dir>', 'results directory (default compare/results/<timestamp>)')
    .option('--keep-data', 'leave the objects this run uploaded on external clusters (default: delete them at the end, unmeasured)')
    .exitOverride()
  try {
    program.parse(args, { from: 'user' })
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 1
  }
  const o = program.opts()
  stopClustersOnSignal()
  const res = await runCompare(
    {
      scenario: o.scenario,
      quick: o.quick,
      mysql: typeof o.mysql === 'string' ? o.mysql : undefined,
      noMysql: o.mysql === false,
      fastdfsTracker: o.fastdfsTracker,
      fastdfsCluster: o.fastdfsCluster,
      mogilefsTracker: o.mogilefsTracker,
      domain: o.domain,
      class: o.class,
      only: o.only,
      dataDir: o.dataDir,
      out: o.out,
      keepData: o.keepData === true,
    },
    `npm run compare -- ${args.join(' ')}`.trim(),
  )
  process.stdout.write(res.md)
  console.error(`\nreport: ${path.join(res.dir, 'report.html')}`)
  return 0
}
