/**
 * What a command handler can reach: the store, the cached cluster view, the
 * config and hooks into the in-process jobs. Built once by the Tracker.
 */
import type { MetadataStore } from '../db/store.js'
import type { ClusterState } from './state.js'
import type { TrackerConf } from './tracker-conf.js'
import type { ReplicaHint } from '../jobs/replicate.js'
import type { RebalPlan } from '../jobs/rebalance.js'

export interface JobHooks {
  /**
   * create_close/updateclass: replicate this fid now (in-process signal, no
   * polling delay). With a hint (create_close) the queue row is already leased
   * to us and the replicator needs no DB reads before copying.
   */
  replicate(fid: number, hint?: ReplicaHint): void
  /** delete/overwrite: wake the delete job. */
  deleted(): void
  /** Resolves once the monitor has probed every device at least once (create_open waits on it). */
  firstMonitorRound(): Promise<void>
  /** Run a monitor round now and wait for it. */
  monitorRound(): Promise<void>
  fsckStart(): Promise<void>
  fsckStop(): Promise<void>
  fsckRunning(): boolean
  rebalStart(plan: RebalPlan): Promise<void>
  rebalStop(): Promise<void>
  rebalRunning(): boolean
  /** Counters for `!stats` / `!jobs`. */
  jobs(): Record<string, number>
}

export interface Ctx {
  store: MetadataStore
  state: ClusterState
  conf: TrackerConf
  hooks: JobHooks
  /** Reload the cluster view after an admin change. */
  refresh(): Promise<void>
}

/** A command: decoded args in, OK args out (or throws MogError). */
export type Handler = (args: Record<string, string>, ctx: Ctx) => Promise<Record<string, string | number | undefined | null>>
