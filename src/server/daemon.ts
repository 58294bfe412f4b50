/**
 * Daemon life cycle shared by every server command (fdfs_trackerd, fdfs_storaged,
 * mogilefsd, mogstored): `start` detaches and returns once the server is
 * listening, `stop` ends it gracefully via SIGTERM, `restart` does both, and
 * `foreground` runs in this process (for supervisors, tests and `tandem up`).
 *
 * The detached child is this same program re-run with TANDEM_DETACHED=1; its
 * stdout/stderr go to the log file, and it writes the pid file only once it
 * serves, so the parent's "started" means "accepting connections".
 */
import { startCpuProfile } from './cpu-profile.js'
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { logger } from '../log.js'
import type { MetricsServer } from './metrics-http.js'
import { startMetricsServer } from './process-metrics.js'
import { daemonNodeFlags } from './node-flags.js'

const log = logger('server.daemon')

export type DaemonAction = 'start' | 'stop' | 'restart' | 'foreground'

export interface Running {
  close(): Promise<void>
}

export interface DaemonSpec {
  /** Program name used in messages (e.g. `fdfs_trackerd`). */
  name: string
  pidFile: string
  logFile: string
  /** Start serving; resolves once listening. */
  run(): Promise<Running>
  /** Serve this process's metrics as GET /metrics on this port (tandemfs key `metrics_port`; 0/absent = off). */
  metricsPort?: number
  metricsHost?: string
}

/** Why 30 s: a storage finishing a large in-flight upload on stop, or a slow first start. */
const WAIT_MS = 30_000

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** Running and not a zombie (an exited child that nobody reaped yet still answers kill(pid, 0)). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function stop(spec: DaemonSpec): Promise<number> {
  const pid = readPid(spec.pidFile)
  if (!pid || !alive(pid)) {
    console.error(`${spec.name}: process not running (pid file ${spec.pidFile})`)
    if (pid) rmSync(spec.pidFile, { force: true })
    return 0
  }
  process.kill(pid, 'SIGTERM')
  console.log(`waiting for pid [${pid}] exit ...`)
  const deadline = Date.now() + WAIT_MS
  while (alive(pid) && Date.now() < deadline) await sleep(50)
  if (alive(pid)) {
    console.error(`${spec.name}: pid ${pid} did not exit in ${WAIT_MS / 1000}s, sending SIGKILL`)
    process.kill(pid, 'SIGKILL')
  }
  console.log(`pid [${pid}] exit.`)
  rmSync(spec.pidFile, { force: true })
  return 0
}

async function startDetached(spec: DaemonSpec): Promise<number> {
  const old = readPid(spec.pidFile)
  if (old && alive(old)) {
    console.error(`${spec.name}: already running as pid ${old}`)
    return 1
  }
  mkdirSync(path.dirname(spec.logFile), { recursive: true })
  mkdirSync(path.dirname(spec.pidFile), { recursive: true })
  rmSync(spec.pidFile, { force: true })
  const fd = openSync(spec.logFile, 'a')
  const child = spawn(process.execPath, [...daemonNodeFlags(process.execArgv), ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, TANDEM_DETACHED: '1' },
  })
  closeSync(fd)
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  const deadline = Date.now() + WAIT_MS
  while (Date.now() < deadline) {
    if (readPid(spec.pidFile) === child.pid) {
      child.unref()
      return 0
    }
    if (exited !== undefined) break
    await sleep(25)
  }
  const tail = existsSync(spec.logFile) ? readFileSync(spec.logFile, 'utf8').split('\n').slice(-15).join('\n') : ''
  console.error(`${spec.name}: failed to start${exited !== undefined ? ` (exit ${exited})` : ' in time'}; see ${spec.logFile}\n${tail}`)
  if (exited === undefined) child.kill('SIGKILL')
  return 1
}

/** Serve in this process until SIGTERM/SIGINT; write the pid file once listening. */
async function foreground(spec: DaemonSpec): Promise<number> {
  const stopProfile = startCpuProfile(spec.name)
  let running: Running
  try {
    running = await spec.run()
  } catch (e) {
    log.fatal({ err: e }, `${spec.name} failed to start`)
    console.error(`${spec.name}: ${(e as Error).message}`)
    return 1
  }
  let metricsSrv: MetricsServer | undefined
  try {
    metricsSrv = await startMetricsServer(spec.metricsHost ?? '127.0.0.1', spec.metricsPort)
    if (metricsSrv) log.info({ port: metricsSrv.address().port }, 'serving /metrics')
  } catch (e) {
    log.fatal({ err: e }, `${spec.name}: cannot listen for /metrics on ${spec.metricsPort}`)
    await running.close().catch(() => {})
    return 1
  }
  mkdirSync(path.dirname(spec.pidFile), { recursive: true })
  writeFileSync(spec.pidFile, `${process.pid}\n`)
  log.info({ pid: process.pid }, `${spec.name} started`)
  await new Promise<void>((resolve) => {
    let stopping = false
    const onSignal = (sig: string) => {
      if (stopping) return
      stopping = true
      log.info({ sig }, `${spec.name} stopping`)
      running
        .close()
        .catch((e) => log.error({ err: e }, 'error while stopping'))
        .finally(resolve)
    }
    process.on('SIGTERM', () => onSignal('SIGTERM'))
    process.on('SIGINT', () => onSignal('SIGINT'))
  })
  await metricsSrv?.close()
  await stopProfile().catch((e) => log.warn({ err: e }, 'writing the CPU profile failed'))
  if (readPid(spec.pidFile) === process.pid) rmSync(spec.pidFile, { force: true })
  log.info(`${spec.name} stopped`)
  return 0
}

/** Entry point for a daemon command. Returns the process exit code. */
export async function runDaemon(spec: DaemonSpec, action: DaemonAction): Promise<number> {
  if (process.env.TANDEM_DETACHED === '1' && action !== 'stop') return foreground(spec)
  switch (action) {
    case 'foreground':
      return foreground(spec)
    case 'start':
      return startDetached(spec)
    case 'stop':
      return stop(spec)
    case 'restart':
      await stop(spec)
      return startDetached(spec)
  }
}

/** Parse the `[start|stop|restart]` positional the FastDFS daemons take, plus our foreground flags. */
export function parseAction(args: string[]): DaemonAction | undefined {
  if (args.includes('--foreground') || args.includes('-n') || args.includes('foreground')) return 'foreground'
  const a = args.find((x) => ['start', 'stop', 'restart'].includes(x))
  return (a as DaemonAction | undefined) ?? 'start'
}
