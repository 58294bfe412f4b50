/**
 * mogilefsd.conf (`key = value`, as the reference): what the tracker needs.
 * Unknown keys are accepted and ignored (the reference has many plugin keys).
 * Called by the mogilefsd CLI; absent keys take the reference defaults.
 */
import { ConfFile, parseHostPort } from '../../../config/conf-file.js'
import { parseDsn, type Dsn } from '../db/dsn.js'

export interface TrackerConf {
  dsn: Dsn
  dbUser?: string
  dbPass?: string
  listen: { host: string; port: number }
  /** Global mgmt ("sidechannel") port of every mogstored (reference: one value for all). */
  mogstoredStreamPort: number
  queryJobs: number
  replicateJobs: number
  deleteJobs: number
  defaultMindevcount: number
  /** MB a device must keep free to receive new files. */
  minFreeSpace: number
  daemonize: boolean
  pidfile?: string
  /** Seconds to wait for a storage node before calling it unreachable. */
  nodeTimeout: number
  user?: string
  /** Seconds between monitor rounds (ours; reference is 2.5 s). */
  monitorInterval: number
  /** SQLite commit durability (ours): normal (default) or full. */
  sqliteSync: 'normal' | 'full'
}

/** Defaults when no config file exists: SQLite in the working directory. */
export const DEFAULT_DSN = 'DBI:SQLite:dbname=mogilefs.sqlite'

export function trackerConf(c: ConfFile): TrackerConf {
  const listen = parseHostPort(c.str('listen', '0.0.0.0:7001')!, 7001)
  return {
    dsn: parseDsn(c.str('db_dsn', DEFAULT_DSN)!),
    dbUser: c.str('db_user'),
    dbPass: c.str('db_pass'),
    listen,
    mogstoredStreamPort: c.int('mogstored_stream_port', 7501, { min: 1, max: 65535 }),
    queryJobs: c.int('query_jobs', 20, { min: 1 }),
    replicateJobs: c.int('replicate_jobs', 1, { min: 0 }),
    deleteJobs: c.int('delete_jobs', 1, { min: 0 }),
    defaultMindevcount: c.int('default_mindevcount', 2, { min: 1 }),
    minFreeSpace: c.int('min_free_space', 100, { min: 0 }),
    daemonize: c.bool('daemonize', false),
    pidfile: c.str('pidfile'),
    nodeTimeout: Number(c.str('node_timeout', '2')) || 2,
    user: c.str('user'),
    monitorInterval: Number(c.str('monitor_interval', '2.5')) || 2.5,
    sqliteSync: c.oneOf('sqlite_synchronous', 'normal', ['normal', 'full'] as const),
  }
}
