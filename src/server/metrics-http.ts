/**
 * Serves a daemon's Metrics as `GET /metrics` on its own port (every daemon of
 * both personalities; the port comes from its conf, 0 = disabled). Plain
 * node:http: one route does not need a framework, and it must stay up even
 * while the main listener is busy.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Metrics } from '../engine/metrics.js'

export interface MetricsServer {
  address(): AddressInfo
  close(): Promise<void>
}

export async function serveMetrics(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const srv = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      metrics
        .render()
        .then((body) => {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
          res.end(body)
        })
        .catch(() => {
          res.writeHead(500)
          res.end()
        })
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  })
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject)
    srv.listen(port, host, () => resolve())
  })
  return {
    address: () => srv.address() as AddressInfo,
    close: () => new Promise((r) => srv.close(() => r())),
  }
}
