/**
 * fdfs_storaged process life cycle: crash during a large upload, restart,
 * graceful stop with an upload in flight, and start/stop as a daemon with a
 * relative conf path.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { downloadBody, fixedField, header, long, RawConn, remoteOf, startTestStorage, uploadBody, type TestStorage } from '../../helpers/fdfs-raw.js'
import { runCli, waitForPort } from '../../helpers/proc.js'

const started: TestStorage[] = []
afterAll(async () => {
  for (const s of started) await s.destroy()
})

function dataFiles(dir: string): string[] {
  const out: string[] = []
  if (!existsSync(dir)) return out
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e)
    if (statSync(p).isDirectory()) out.push(...dataFiles(p))
    else out.push(p)
  }
  return out
}

describe('fdfs_storaged life cycle', () => {
  it('SIGKILL during a large upload leaves no visible partial file; restart is clean', async () => {
    const st = await startTestStorage('fdfs-kill')
    started.push(st)
    const c = await RawConn.connect(st.port)
    const size = 64 * 1024 * 1024
    c.write(Buffer.concat([header(15 + size, 11), Buffer.of(0), long(size), fixedField('bin', 6)]))
    for (let i = 0; i < 8; i++) c.write(Buffer.alloc(1024 * 1024, i))
    // wait until the server really has bytes in its temp file
    const tmp = path.join(st.dir, 'store0', '.tandem-tmp')
    for (let i = 0; i < 200 && !(existsSync(tmp) && readdirSync(tmp).some((f) => statSync(path.join(tmp, f)).size > 0)); i++) await new Promise((r) => setTimeout(r, 25))
    await st.daemon.kill()
    c.destroy()
    expect(dataFiles(path.join(st.dir, 'store0', 'data'))).toEqual([])
    await st.restart()
    expect(readdirSync(tmp)).toEqual([])
    const d = await RawConn.connect(st.port)
    const r = await d.call(11, uploadBody(Buffer.from('after restart')))
    expect(r.status).toBe(0)
    expect((await d.call(14, downloadBody('group1', remoteOf(r.body)))).body.toString()).toBe('after restart')
    d.destroy()
  })

  it('graceful stop lets an in-flight upload finish, then exits 0 and removes the pid file', async () => {
    const st = await startTestStorage('fdfs-term')
    started.push(st)
    const pidFile = path.join(st.dir, 'data', 'fdfs_storaged.pid')
    // the pid file is written right after the port opens
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25))
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(st.daemon.proc.pid))
    const c = await RawConn.connect(st.port)
    const size = 4 * 1024 * 1024
    const data = Buffer.alloc(size, 7)
    c.write(Buffer.concat([header(15 + size, 11), Buffer.of(0), long(size), fixedField('bin', 6)]))
    c.write(data.subarray(0, size / 2))
    await new Promise((r) => setTimeout(r, 100))
    const stopping = st.daemon.stop()
    await new Promise((r) => setTimeout(r, 100))
    c.write(data.subarray(size / 2))
    const r = await c.reply()
    expect(r.status).toBe(0)
    const remote = remoteOf(r.body)
    expect(await stopping).toBe(0)
    expect(existsSync(pidFile)).toBe(false)
    expect(readFileSync(path.join(st.dir, 'store0', 'data', remote.slice(4))).equals(data)).toBe(true)
  })

  it('start / stop as a daemon with a relative conf path', async () => {
    const st = await startTestStorage('fdfs-daemon')
    started.push(st)
    await st.daemon.stop()
    const start = await runCli('fdfs_storaged', ['storage.conf', 'start'], { cwd: st.dir })
    expect(start.code).toBe(0)
    await waitForPort('127.0.0.1', st.port)
    const pid = Number(readFileSync(path.join(st.dir, 'data', 'fdfs_storaged.pid'), 'utf8'))
    expect(pid).toBeGreaterThan(0)
    const c = await RawConn.connect(st.port)
    expect((await c.call(111)).status).toBe(0)
    c.destroy()
    const stop = await runCli('fdfs_storaged', ['storage.conf', 'stop'], { cwd: st.dir })
    expect(stop.code).toBe(0)
    expect(existsSync(path.join(st.dir, 'data', 'fdfs_storaged.pid'))).toBe(false)
    expect(existsSync(path.join(st.dir, 'logs', 'storaged.log'))).toBe(true)
  })
})
