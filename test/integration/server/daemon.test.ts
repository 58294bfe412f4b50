/**
 * The daemon life cycle shared by every server command, exercised through a
 * real FastDFS tracker: `start` detaches and writes the pid file only once
 * listening, a second `start` refuses, `stop` ends it gracefully and quickly,
 * `stop` without a daemon is harmless; the detached process gets daemonNodeFlags.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { daemonNodeFlags } from '../../../src/server/node-flags.js'
import { freePort, runCli, tmpDir, waitForPort } from '../../helpers/proc.js'

describe('daemon start/stop', () => {
  it('start detaches, stop is graceful and fast, double start refuses', async () => {
    const dir = tmpDir('daemon')
    const port = await freePort()
    const conf = path.join(dir, 'tracker.conf')
    writeFileSync(conf, `bind_addr = 127.0.0.1\nport = ${port}\nbase_path = ${dir}\n`)
    const start = await runCli('fdfs_trackerd', [conf, 'start'], { env: { TANDEM_LOG_LEVEL: 'info' } })
    expect(start.code, start.stderr).toBe(0)
    const pidFile = path.join(dir, 'data', 'fdfs_trackerd.pid')
    expect(existsSync(pidFile)).toBe(true)
    await waitForPort('127.0.0.1', port)
    // The detached daemon runs with our node flags (server/node-flags.ts): single-threaded GC.
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--single-threaded-gc')
    const again = await runCli('fdfs_trackerd', [conf, 'start'])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toMatch(/already running/)
    const t0 = Date.now()
    const stop = await runCli('fdfs_trackerd', [conf, 'stop'])
    expect(stop.code).toBe(0)
    expect(stop.stdout).toMatch(/exit/)
    expect(Date.now() - t0).toBeLessThan(3000)
    expect(existsSync(pidFile)).toBe(false)
    expect(existsSync(path.join(dir, 'logs', 'trackerd.log'))).toBe(true)
    expect(readFileSync(path.join(dir, 'logs', 'trackerd.log'), 'utf8')).toMatch(/started/)
    const stopAgain = await runCli('fdfs_trackerd', [conf, 'stop'])
    expect(stopAgain.code).toBe(0)
  })

  it('daemonNodeFlags: single-threaded GC unless TANDEM_GC_THREADS=1, TANDEM_NODE_FLAGS added, nothing twice', () => {
    const saved = { g: process.env.TANDEM_GC_THREADS, n: process.env.TANDEM_NODE_FLAGS }
    try {
      delete process.env.TANDEM_GC_THREADS
      delete process.env.TANDEM_NODE_FLAGS
      expect(daemonNodeFlags()).toEqual(['--single-threaded-gc'])
      expect(daemonNodeFlags(['--single-threaded-gc', '--inspect'])).toEqual(['--single-threaded-gc', '--inspect'])
      process.env.TANDEM_NODE_FLAGS = ' --trace-gc  --max-semi-space-size=8 '
      expect(daemonNodeFlags()).toEqual(['--single-threaded-gc', '--trace-gc', '--max-semi-space-size=8'])
      process.env.TANDEM_GC_THREADS = '1'
      expect(daemonNodeFlags(['--trace-gc'])).toEqual(['--trace-gc', '--max-semi-space-size=8'])
    } finally {
      for (const [k, v] of [['TANDEM_GC_THREADS', saved.g], ['TANDEM_NODE_FLAGS', saved.n]] as const) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  })
})
