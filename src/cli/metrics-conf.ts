/**
 * `metrics_port` / `metrics_addr`: tandemfs keys accepted in every daemon's conf
 * (the originals ignore unknown keys, so the same file still works for them).
 * Absent or 0 = no /metrics listener. Called by the daemon entry points.
 */
import { existsSync } from 'node:fs'
import { ConfFile } from '../config/conf-file.js'

export function metricsFromConf(c: ConfFile | undefined): { metricsPort?: number; metricsHost?: string } {
  if (!c) return {}
  const port = c.int('metrics_port', 0, { min: 0, max: 65535 })
  return port ? { metricsPort: port, metricsHost: c.str('metrics_addr', '127.0.0.1') } : {}
}

export function metricsFromFile(file: string | undefined): { metricsPort?: number; metricsHost?: string } {
  return file && existsSync(file) ? metricsFromConf(ConfFile.load(file)) : {}
}
