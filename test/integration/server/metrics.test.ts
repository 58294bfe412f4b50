/**
 * Every daemon can serve Prometheus metrics on `metrics_port`: checked on a
 * real FastDFS storage (store gauges, request and byte counters) and a real
 * mogstored (request counters).
 */
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parsePrometheus } from '../../../src/engine/metrics.js'
import { RawConn, startTestStorage, uploadBody, type TestStorage } from '../../helpers/fdfs-raw.js'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

async function scrape(port: number): Promise<Map<string, number>> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`)
  expect(r.status).toBe(200)
  return parsePrometheus(await r.text())
}

describe('/metrics', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  afterAll(async () => {
    for (const c of cleanup) await c()
  })

  it('a FastDFS storage reports store space, requests and bytes', async () => {
    const mport = await freePort()
    const s: TestStorage = await startTestStorage('metrics', `metrics_port = ${mport}`)
    cleanup.push(() => s.destroy())
    await waitForPort('127.0.0.1', mport)
    const before = await scrape(mport)
    const free = [...before].find(([k]) => k.startsWith('tandem_store_free_bytes{'))
    expect(free?.[1]).toBeGreaterThan(0)
    const c = await RawConn.connect(s.port)
    const r = await c.call(11, uploadBody(Buffer.alloc(5000, 1)))
    expect(r.status).toBe(0)
    c.sock.destroy()
    const after = await scrape(mport)
    expect(after.get('tandem_requests_total{cmd="11",proto="fastdfs-storage"}')).toBe(1)
    expect(after.get('tandem_store_written_bytes_total')).toBeGreaterThanOrEqual(5000)
    expect(after.get('tandem_bytes_total{dir="in",proto="fastdfs-storage"}')).toBe(5000)
  })

  it('the FastDFS tracker counts requests per command', async () => {
    const dir = tmpDir('trkmetrics')
    const [tp, xp] = [await freePort(), await freePort()]
    const conf = path.join(dir, 'tracker.conf')
    writeFileSync(conf, `bind_addr = 127.0.0.1\nport = ${tp}\nbase_path = ${dir}\nmetrics_port = ${xp}\n`)
    const d: Daemon = spawnDaemon('trackerd', 'fdfs_trackerd', [conf, '--foreground'], dir)
    cleanup.push(() => d.stop())
    await waitForPort('127.0.0.1', xp)
    const c = await RawConn.connect(tp)
    expect((await c.call(111)).status).toBe(0)
    expect((await c.call(101)).status).not.toBe(0) // no storage yet: ENOENT-like errno
    c.sock.destroy()
    const m = await scrape(xp)
    expect(m.get('tandem_requests_total{cmd="111",proto="fastdfs-tracker"}')).toBe(1)
    expect(m.get('tandem_request_errors_total{cmd="101",proto="fastdfs-tracker"}')).toBe(1)
    // The runtime series (runtime-metrics.ts) of the daemon process itself.
    const cpu = m.get('process_cpu_seconds_total')!
    expect(cpu).toBeGreaterThan(0)
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 2 ** 20)
    expect(m.get('process_start_time_seconds')).toBeGreaterThan(Date.now() / 1000 - 600)
    expect(m.get('process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000)
    expect(m.get('nodejs_heap_used_bytes')).toBeGreaterThan(0)
    await new Promise((r) => setTimeout(r, 300)) // a few 20 ms delay samples, even on a busy machine
    const m2 = await scrape(xp)
    expect(m2.get('nodejs_eventloop_lag_seconds{quantile="0.99"}')).toBeGreaterThan(0)
    expect(m2.get('nodejs_eventloop_lag_seconds{quantile="0.99"}')).toBeLessThan(5)
    expect(m2.get('process_cpu_seconds_total')).toBeGreaterThanOrEqual(cpu)
    const text = await (await fetch(`http://127.0.0.1:${xp}/metrics`)).text()
    expect(text).toContain('# TYPE process_cpu_seconds_total counter')
    expect(text).toContain('# TYPE nodejs_gc_runs_total counter')
    expect(m2.get('nodejs_gc_runs_total{kind="major"}')).toBeGreaterThanOrEqual(0)
  })

  it('the MogileFS tracker counts commands and reports its queues', async () => {
    const dir = tmpDir('mogtrkmetrics')
    const [tp, xp] = [await freePort(), await freePort()]
    const conf = path.join(dir, 'mogilefsd.conf')
    writeFileSync(conf, `db_dsn = DBI:SQLite:dbname=${dir}/m.sqlite\nlisten = 127.0.0.1:${tp}\nmetrics_port = ${xp}\n`)
    const d: Daemon = spawnDaemon('mogilefsd', 'mogilefsd', ['--config', conf], dir)
    cleanup.push(() => d.stop())
    await waitForPort('127.0.0.1', xp)
    await waitForPort('127.0.0.1', tp)
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(tp, '127.0.0.1', () => sock.write('noop\r\nget_paths domain=nope&key=x\r\n'))
      let buf = ''
      sock.on('data', (b) => {
        buf += b.toString()
        if (buf.split('\r\n').length > 2) {
          sock.destroy()
          resolve(buf)
        }
      })
      sock.on('error', reject)
    })
    expect(reply).toMatch(/^OK /)
    const m = await scrape(xp)
    expect(m.get('tandem_requests_total{cmd="noop",proto="mogilefs-tracker"}')).toBe(1)
    expect(m.get('tandem_request_errors_total{cmd="get_paths",proto="mogilefs-tracker"}')).toBe(1)
    expect(m.get('tandem_mogilefs_replication_queue')).toBe(0)
  })

  it('mogstored reports HTTP requests by method', async () => {
    const dir = tmpDir('mogmetrics')
    const [hp, mp, xp] = [await freePort(), await freePort(), await freePort()]
    const conf = path.join(dir, 'mogstored.conf')
    writeFileSync(conf, `httplisten = 127.0.0.1:${hp}\nmgmtlisten = 127.0.0.1:${mp}\ndocroot = ${dir}\nmetrics_port = ${xp}\n`)
    const d: Daemon = spawnDaemon('mogstored', 'mogstored', ['--config', conf], dir)
    cleanup.push(() => d.stop())
    await waitForPort('127.0.0.1', xp)
    expect((await fetch(`http://127.0.0.1:${hp}/dev1/0/x.fid`, { method: 'PUT', body: 'abc' })).status).toBeLessThan(300)
    expect((await fetch(`http://127.0.0.1:${hp}/dev1/0/x.fid`)).status).toBe(200)
    const m = await scrape(xp)
    expect(m.get('tandem_requests_total{cmd="PUT",proto="mogstored"}')).toBe(1)
    expect(m.get('tandem_requests_total{cmd="GET",proto="mogstored"}')).toBe(1)
    expect(m.get('tandem_bytes_total{dir="in",proto="mogstored"}')).toBe(3)
    expect(m.get('tandem_bytes_total{dir="out",proto="mogstored"}')).toBe(3)
  })
})
