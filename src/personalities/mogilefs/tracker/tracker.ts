/**
 * The MogileFS tracker as one process: metadata store, cluster view, the query
 * server and the background jobs (monitor, replicate, delete, reaper, fsck),
 * all in-process (no forked workers). Started by the mogilefsd CLI and by tests.
 */
import type { Running } from '../../../server/daemon.js'
import { TcpServer } from '../../../server/tcp-server.js'
import { MetadataStore } from '../db/store.js'
import { Deleter } from '../jobs/delete.js'
import { Fsck } from '../jobs/fsck.js'
import { Monitor } from '../jobs/monitor.js'
import { Reaper } from '../jobs/reaper.js'
import { Replicator } from '../jobs/replicate.js'
import { Rebalancer } from '../jobs/rebalance.js'
import type { Ctx, JobHooks } from './context.js'
import { serveConnection, type Counters } from './server.js'
import { ClusterState } from './state.js'
import type { TrackerConf } from './tracker-conf.js'
import { logger } from '../../../log.js'
import { registerTrackerMetrics } from './tracker-metrics.js'

const log = logger('mogilefs.tracker')

export const VERSION = '2.73'

export class Tracker implements Running {
  private constructor(
    readonly conf: TrackerConf,
    readonly store: MetadataStore,
    readonly server: TcpServer,
    private readonly jobs: { monitor: Monitor; repl: Replicator; del: Deleter; reaper: Reaper; fsck: Fsck; rebal: Rebalancer },
  ) {}

  /** Open the DB (creating/migrating the schema), start the jobs, listen. */
  static async start(conf: TrackerConf): Promise<Tracker> {
    const store = await MetadataStore.open(conf.dsn, { user: conf.dbUser, password: conf.dbPass, poolMax: Math.max(4, conf.queryJobs), sqliteSync: conf.sqliteSync })
    try {
      const state = new ClusterState(store, conf.defaultMindevcount)
      await state.refresh()
      const timeoutMs = conf.nodeTimeout * 1000
      const monitor = new Monitor(store, state, conf.monitorInterval * 1000, timeoutMs)
      let firstRoundSeen = false
      void monitor.first.then(() => (firstRoundSeen = true))
      // Why 4 loops per replicate_jobs: an in-process loop is cheap and mostly waits on
      // the network; this keeps replication ahead of the store rate for small files.
      const repl = new Replicator(store, state, Math.max(1, conf.replicateJobs) * 4, 60_000, conf.minFreeSpace)
      const del = new Deleter(store, state, timeoutMs)
      const reaper = new Reaper(store, state, () => repl.wake(0))
      const fsck = new Fsck(store, state, timeoutMs, conf.minFreeSpace, (fid) => repl.wake(fid), conf.mogstoredStreamPort)
      const rebal = new Rebalancer(store, state, 60_000, conf.minFreeSpace)
      const counters: Counters = { started: Date.now(), queries: 0, processing: 0 }
      const hooks: JobHooks = {
        replicate: (fid, hint) => repl.wake(fid, hint),
        deleted: () => del.wake(),
        // Why 10 s: a node that never answers must not block uploads forever; the first round normally takes ms.
        firstMonitorRound: () => (firstRoundSeen ? Promise.resolve() : Promise.race([monitor.first, new Promise<void>((r) => setTimeout(r, 10_000))])),
        monitorRound: () => monitor.round(),
        fsckStart: () => fsck.begin(),
        fsckStop: () => fsck.end(),
        fsckRunning: () => fsck.running(),
        rebalStart: (plan) => rebal.begin(plan),
        rebalStop: () => rebal.end(false),
        rebalRunning: () => rebal.running(),
        jobs: () => ({ replicate: repl.busy, copies: repl.copies, deleted: del.deleted, reaped: reaper.reaped }),
      }
      const ctx: Ctx = { store, state, conf, hooks, refresh: () => state.refresh() }
      let tracker!: Tracker
      const server: TcpServer = new TcpServer({
        host: conf.listen.host,
        port: conf.listen.port,
        name: 'mogilefsd',
        onConnection: (sock): Promise<void> => serveConnection(sock, ctx, server, counters, (cmd) => tracker.bang(cmd, counters, ctx)),
      })
      tracker = new Tracker(conf, store, server, { monitor, repl, del, reaper, fsck, rebal })
      monitor.start()
      if (conf.replicateJobs > 0) repl.start()
      if (conf.deleteJobs > 0) del.start()
      reaper.start()
      fsck.start()
      rebal.start()
      await server.listen()
      registerTrackerMetrics(store)
      log.info({ listen: `${conf.listen.host}:${server.address().port}`, db: conf.dsn.kind }, 'mogilefsd listening')
      return tracker
    } catch (e) {
      await store.close().catch(() => {})
      throw e
    }
  }

  /** `!version`, `!stats`, `!jobs`; anything else gets the help text. Multi-line, ends with `.`. */
  async bang(cmd: string, c: Counters, ctx: Ctx): Promise<string> {
    const name = cmd.slice(1).split(/\s+/)[0].toLowerCase()
    const lines: string[] = []
    if (name === 'version') lines.push(VERSION)
    else if (name === 'stats') {
      const q = ctx.store.queues
      lines.push(`uptime ${Math.floor((Date.now() - c.started) / 1000)}`, `pending_queries 0`, `processing_queries ${c.processing}`, `bored_queryworkers ${Math.max(0, this.conf.queryJobs - c.processing)}`, `queries ${c.queries}`)
      lines.push(`work_queue_for_replicate ${await q.depth('file_to_replicate').catch(() => 0)}`, `work_queue_for_delete ${await q.depth('file_to_delete2').catch(() => 0)}`)
      const j = ctx.hooks.jobs()
      lines.push(`work_sent_to_replicate ${j.copies}`, `work_sent_to_delete ${j.deleted}`, `times_out_of_qworkers 0`)
    } else if (name === 'jobs') {
      const counts: Record<string, number> = { queryworker: this.conf.queryJobs, monitor: 1, replicate: this.conf.replicateJobs, delete: this.conf.deleteJobs, reaper: 1, fsck: 1, job_master: 1 }
      for (const [job, n] of Object.entries(counts)) lines.push(`${job} count ${n}`, `${job} desired ${n}`, `${job} pids ${process.pid}`)
    } else {
      lines.push('Tracker admin commands (in-process tracker):', '  !version   server version', '  !stats     counters', '  !jobs      job counts')
    }
    return lines.map((l) => l + '\r\n').join('') + '.\r\n'
  }

  async close(): Promise<void> {
    await this.server.close()
    const j = this.jobs
    await Promise.all([j.monitor.stop(), j.repl.stop(), j.del.stop(), j.reaper.stop(), j.fsck.stop(), j.rebal.stop()])
    await this.store.close()
  }
}
