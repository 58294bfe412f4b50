/**
 * mogstored configuration: `mogstored.conf` (`key = value`) overlaid by the
 * command-line flags the real mogstored takes (`--httplisten`, `--mgmtlisten`,
 * `--docroot`, `--maxconns`, `--server`, `--pidfile`). Unknown keys are accepted
 * and ignored, as the original does for keys it does not know.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { ConfFile, parseHostPort } from '../../../config/conf-file.js'

export const DEFAULT_CONF = '/etc/mogilefs/mogstored.conf'

export interface MogstoredConfig {
  httpHost: string
  httpPort: number
  mgmtHost: string
  mgmtPort: number
  /** Directory holding the `dev<N>` device directories. */
  docroot: string
  /** Upper bound on simultaneous HTTP connections (0 = unlimited). */
  maxConns: number
  /** `perlbal` (default), `lighttpd`, `apache`, `none`: we always serve HTTP ourselves; recorded only. */
  server: string
  pidFile?: string
  /** Seconds between `dev<N>/usage` rewrites (the original: 10). */
  usageInterval: number
}

/** Flag overrides from the command line; absent = take the file value or default. */
export interface MogstoredFlags {
  config?: string
  httplisten?: string
  mgmtlisten?: string
  docroot?: string
  maxconns?: string
  server?: string
  pidfile?: string
}

/**
 * Called by the mogstored CLI. A missing default config file is fine (the
 * original runs on defaults); a missing explicitly named one is an error.
 */
export function loadMogstoredConfig(flags: MogstoredFlags): MogstoredConfig {
  let conf: ConfFile | undefined
  if (flags.config) conf = ConfFile.load(flags.config)
  else if (existsSync(DEFAULT_CONF)) conf = ConfFile.load(DEFAULT_CONF)
  const get = (k: keyof MogstoredFlags, def: string): string => flags[k] ?? conf?.str(k) ?? def
  const http = parseHostPort(get('httplisten', '0.0.0.0:7500'), 7500)
  const mgmt = parseHostPort(get('mgmtlisten', '0.0.0.0:7501'), 7501)
  const maxConns = Number(get('maxconns', '10000'))
  if (!Number.isInteger(maxConns) || maxConns < 0) throw new Error(`bad maxconns ${JSON.stringify(get('maxconns', ''))}`)
  const interval = Number(conf?.str('usage_interval') ?? '10')
  return {
    httpHost: http.host,
    httpPort: http.port,
    mgmtHost: mgmt.host,
    mgmtPort: mgmt.port,
    docroot: path.resolve(get('docroot', '/var/mogdata')),
    maxConns,
    server: get('server', 'perlbal'),
    pidFile: flags.pidfile ?? conf?.str('pidfile'),
    usageInterval: interval > 0 ? interval : 10,
  }
}
