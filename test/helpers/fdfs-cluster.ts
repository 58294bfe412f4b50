/**
 * Boot a real FastDFS cluster of our daemons for integration tests: tracker(s)
 * on 127.0.0.1 and N storages of one group on 127.0.0.2, 127.0.0.3, ... all on
 * the same port (MODE ip: identity = IP), each in its own temp dir with its
 * log kept (`<dir>/storaged.out`). heart_beat_interval = 1.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { decodeStorageStats, type StorageStat } from '../../src/personalities/fastdfs/tracker/monitor-codec.js'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from './proc.js'
import { downloadBody, fixedField, groupName, RawConn, remoteOf, uploadBody } from './fdfs-raw.js'

export interface ClusterTracker {
  port: number
  dir: string
  daemon: Daemon
  start(): Promise<void>
}

export interface ClusterStorage {
  ip: string
  dir: string
  conf: string
  daemon: Daemon
  /** Start (again) with the same config and data. */
  start(): Promise<void>
  /** Path of a stored file on disk. */
  file(remote: string): string
}

export interface Cluster {
  dir: string
  port: number
  httpPort: number
  trackers: ClusterTracker[]
  storages: ClusterStorage[]
  /** Add (and start) one more storage of group1 at the next 127.0.0.x address. */
  addStorage(extra?: string): Promise<ClusterStorage>
  /** LIST_STORAGE (92) of group1 from tracker `t`. */
  list(t?: number): Promise<StorageStat[]>
  /** Poll until `pred` holds (checks every 50 ms); throws after `ms` naming `what`. */
  until(pred: () => boolean | Promise<boolean>, what: string, ms?: number): Promise<void>
  stop(): Promise<void>
}

export interface ClusterOptions {
  storages: number
  trackers?: number
  /** Extra storage.conf lines. */
  storageConf?: string
  /** Extra storage.conf lines for one storage (index in `storages`, its ip), e.g. its own metrics_addr. */
  storageExtra?: (index: number, ip: string) => string
  http?: boolean
  tag?: string
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const dir = tmpDir(o.tag ?? 'fdfs-cluster')
  const port = await freePort()
  const httpPort = await freePort()
  const trackers: ClusterTracker[] = []
  for (let i = 0; i < (o.trackers ?? 1); i++) {
    const tport = await freePort()
    const tdir = path.join(dir, `tracker${i}`)
    mkdirSync(path.join(tdir, 'base'), { recursive: true })
    const conf = path.join(tdir, 'tracker.conf')
    writeFileSync(conf, `base_path = ${tdir}/base\nbind_addr = 127.0.0.1\nport = ${tport}\nreserved_storage_space = 1%\ncheck_active_interval = 5\n`)
    const t: ClusterTracker = {
      port: tport,
      dir: tdir,
      daemon: undefined as unknown as Daemon,
      async start() {
        t.daemon = spawnDaemon('trackerd', 'fdfs_trackerd', [conf, '--foreground'], tdir)
        await waitForPort('127.0.0.1', tport)
      },
    }
    await t.start()
    trackers.push(t)
  }
  const storages: ClusterStorage[] = []
  async function addStorage(extra = ''): Promise<ClusterStorage> {
    const ip = `127.0.0.${storages.length + 2}`
    const sdir = path.join(dir, `storage-${ip}`)
    mkdirSync(sdir, { recursive: true })
    const conf = path.join(sdir, 'storage.conf')
    writeFileSync(
      conf,
      [
        'group_name = group1',
        `bind_addr = ${ip}`,
        `port = ${port}`,
        'base_path = .',
        'store_path_count = 1',
        'store_path0 = ./store0',
        ...trackers.map((t) => `tracker_server = 127.0.0.1:${t.port}`),
        'heart_beat_interval = 1',
        'stat_report_interval = 1',
        'network_timeout = 10',
        'subdir_count_per_path = 4',
        o.http ? `http.server_port = ${httpPort}` : '',
        o.storageConf ?? '',
        o.storageExtra?.(storages.length, ip) ?? '',
        extra,
      ].join('\n') + '\n',
    )
    const s: ClusterStorage = {
      ip,
      dir: sdir,
      conf,
      daemon: undefined as unknown as Daemon,
      async start() {
        s.daemon = spawnDaemon('storaged', 'fdfs_storaged', [conf, '--foreground'], sdir)
        await waitForPort(ip, port)
        if (o.http) await waitForPort(ip, httpPort)
      },
      file: (remote) => path.join(sdir, 'store0', 'data', remote.slice(4)),
    }
    await s.start()
    storages.push(s)
    return s
  }
  for (let i = 0; i < o.storages; i++) await addStorage()

  const c: Cluster = {
    dir,
    port,
    httpPort,
    trackers,
    storages,
    addStorage,
    async list(t = 0) {
      const conn = await RawConn.connect(trackers[t].port)
      try {
        const r = await conn.call(92, fixedField('group1', 16))
        if (r.status !== 0) return []
        return decodeStorageStats(r.body)
      } finally {
        conn.destroy()
      }
    },
    async until(pred, what, ms = 30_000) {
      const deadline = Date.now() + ms
      for (;;) {
        if (await pred()) return
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async stop() {
      await Promise.all(storages.map((s) => s.daemon?.stop()))
      await Promise.all(trackers.map((t) => t.daemon?.stop()))
      if (!process.env.KEEP_FDFS_CLUSTER) rmSync(dir, { recursive: true, force: true })
    },
  }
  return c
}

/** Upload `data` directly to the storage at `ip`; returns the remote name (`M00/...`). */
export async function uploadTo(ip: string, port: number, data: Buffer, ext = 'bin', cmd = 11): Promise<string> {
  const c = await RawConn.connect(port, ip)
  try {
    const r = await c.call(cmd, uploadBody(data, ext))
    if (r.status !== 0) throw new Error(`upload failed with ${r.status}`)
    return remoteOf(r.body)
  } finally {
    c.destroy()
  }
}

/** DOWNLOAD (14) from `ip`: { status, body }. */
export async function downloadFrom(ip: string, port: number, remote: string): Promise<{ status: number; body: Buffer }> {
  const c = await RawConn.connect(port, ip)
  try {
    return await c.call(14, downloadBody('group1', remote))
  } finally {
    c.destroy()
  }
}

/** QUERY_FILE_INFO (22) on `ip`: status (0 = the storage has or proxies the file). */
export async function queryInfo(conn: RawConn, remote: string): Promise<{ status: number; size: number }> {
  const r = await conn.call(22, groupName('group1', remote))
  return { status: r.status, size: r.status === 0 ? Number(r.body.readBigInt64BE(0)) : -1 }
}
