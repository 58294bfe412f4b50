/**
 * Integration-test plumbing: free ports, temp dirs, and real daemon child
 * processes whose output is kept in `<dir>/<name>.out` for post-mortems.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const BIN = path.join(ROOT, 'bin')

export function tmpDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `tandem-${tag}-`))
}

/** A port the OS says is free right now on `host` (racy by nature; tests retry on EADDRINUSE rarely). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

export async function waitForPort(host: string, port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ host, port }, () => {
        s.destroy()
        r(true)
      })
      s.once('error', () => r(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface Daemon {
  name: string
  proc: ChildProcess
  logFile: string
  /** SIGTERM and wait (graceful). */
  stop(): Promise<number | null>
  /** SIGKILL and wait (crash). */
  kill(): Promise<void>
  log(): string
}

/** Spawn `bin/<cmd> ...args` in the foreground mode, output kept in `dir/<name>.out`. */
export function spawnDaemon(name: string, cmd: string, args: string[], dir: string, env: NodeJS.ProcessEnv = {}): Daemon {
  const logFile = path.join(dir, `${name}.out`)
  const fd = openSync(logFile, 'a')
  const proc = spawn(process.execPath, [path.join(BIN, cmd), ...args], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, TANDEM_LOG_LEVEL: process.env.TANDEM_TEST_DAEMON_LOG ?? 'info', ...env },
  })
  closeSync(fd)
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
  return {
    name,
    proc,
    logFile,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      const code = await exited
      clearTimeout(t)
      return code
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGKILL')
      await exited
    },
    log: () => readFileSync(logFile, 'utf8'),
  }
}

/** Run `bin/<cmd>` to completion and capture its output. */
export function runCli(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string; stdoutBuf: Buffer }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(BIN, cmd), ...args], {
      env: { ...process.env, TANDEM_LOG_LEVEL: 'warn', ...opts.env },
      cwd: opts.cwd,
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    p.stdout.on('data', (d) => out.push(d))
    p.stderr.on('data', (d) => err.push(d))
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
    p.on('error', reject)
    p.on('close', (code) => {
      clearTimeout(t)
      const stdoutBuf = Buffer.concat(out)
      resolve({ code, stdout: stdoutBuf.toString(), stderr: Buffer.concat(err).toString(), stdoutBuf })
    })
    if (opts.input) p.stdin.end(opts.input)
    else p.stdin.end()
  })
}
