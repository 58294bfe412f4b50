/**
 * The daemon life cycle shared by every server command, exercised through a
 * real FastDFS tracker: `start` detaches and writes the pid file only once
 * listening, a second `start` refuses, `stop` ends it gracefully and quickly,
 * `stop` without a daemon is harmless.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
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
})
