/**
 * mogstored configuration: `-c FILE` with the original's keys (plus an
 * unknown one, accepted), flags overriding the file, and a missing explicit
 * config failing cleanly.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort, runCli, spawnDaemon, tmpDir, waitForPort } from '../../helpers/proc.js'
import { rawHttp } from './mogstored-helpers.js'

describe('mogstored config', () => {
  it('reads httplisten/mgmtlisten/docroot from -c FILE; --docroot overrides it', async () => {
    const dir = tmpDir('mogstored-conf')
    const [hp, mp] = [await freePort(), await freePort()]
    mkdirSync(path.join(dir, 'root2/dev7'), { recursive: true })
    const conf = path.join(dir, 'mogstored.conf')
    writeFileSync(conf, `maxconns = 100\nhttplisten = 127.0.0.1:${hp}\nmgmtlisten = 127.0.0.1:${mp}\ndocroot = ${dir}/root1\nsome_future_key = 1\n`)
    const d = spawnDaemon('mogstored', 'mogstored', ['-c', conf, `--docroot=${dir}/root2`, `--pidfile=${dir}/p.pid`], dir)
    try {
      await waitForPort('127.0.0.1', hp)
      await waitForPort('127.0.0.1', mp)
      const [r] = await rawHttp(hp, 'PUT /dev7/a/b.fid HTTP/1.0\r\nContent-length: 2\r\n\r\nhi')
      expect(r.status).toBe(200)
      const [g] = await rawHttp(hp, 'GET /dev7/a/b.fid HTTP/1.0\r\n\r\n')
      expect(g.body.toString()).toBe('hi')
    } finally {
      await d.stop()
    }
  })

  it('a missing explicit config file is an error, not a silent default', async () => {
    const r = await runCli('mogstored', ['--config=/nonexistent/mogstored.conf'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/nonexistent/)
  })
})
