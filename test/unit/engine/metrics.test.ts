import { describe, expect, it } from 'vitest'
import { Metrics, parsePrometheus } from '../../../src/engine/metrics.js'
import { serveMetrics } from '../../../src/server/metrics-http.js'

describe('Metrics', () => {
  it('renders counters, gauges and scrape-time gauges in the Prometheus text format', async () => {
    const m = new Metrics()
    m.inc('req_total', 'Requests', { cmd: 'upload' })
    m.inc('req_total', 'Requests', { cmd: 'upload' }, 2)
    m.inc('req_total', 'Requests', { cmd: 'a"b' })
    m.set('free_bytes', 'Free', { path: 'M00' }, 42)
    m.gaugeFn('lag_seconds', 'Lag', () => [{ labels: { peer: 'p1' }, value: 0.5 }])
    const text = await m.render()
    expect(text).toContain('# TYPE req_total counter')
    expect(text).toContain('req_total{cmd="upload"} 3')
    expect(text).toContain('req_total{cmd="a\\"b"} 1')
    const parsed = parsePrometheus(text)
    expect(parsed.get('free_bytes{path="M00"}')).toBe(42)
    expect(parsed.get('lag_seconds{peer="p1"}')).toBe(0.5)
    expect(m.get('req_total', { cmd: 'upload' })).toBe(3)
  })

  it('serves /metrics over HTTP and 404s elsewhere', async () => {
    const m = new Metrics()
    m.inc('x_total', 'X')
    const srv = await serveMetrics(m, '127.0.0.1', 0)
    const base = `http://127.0.0.1:${srv.address().port}`
    const r = await fetch(`${base}/metrics`)
    expect(r.status).toBe(200)
    expect(await r.text()).toContain('x_total 1')
    expect((await fetch(`${base}/other`)).status).toBe(404)
    await srv.close()
  })
})
