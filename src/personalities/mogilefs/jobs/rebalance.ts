/**
 * Minimal rebalance (spec §4, rebalance_* commands): moves copies off the
 * policy's source devices onto its destination devices, one fid at a time:
 * stream the copy to a destination, record it, and only THEN delete the
 * source copy, so a fid never has fewer copies than before. Supported policy
 * keys: from_hosts/from_devices, to_hosts/to_devices, limit (max fids moved;
 * with limit_by=count or none). Other keys are accepted and ignored.
 * State lives in server_settings: `rebal_host` while running, `rebal_state`
 * as space-separated k=v counters (what mogadm prints).
 */
import os from 'node:os'
import type { MetadataStore } from '../db/store.js'
import { unixNow } from '../db/types.js'
import type { ClusterState } from '../tracker/state.js'
import { fidUrl } from '../tracker/paths.js'
import { copy, httpDelete } from '../tracker/storage-http.js'
import { weightedShuffle } from '../tracker/weighted.js'
import { fidLocks } from './fid-locks.js'
import { jobLoop, Sleeper } from './sleeper.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.rebalance')

export interface RebalPlan {
  sdevs: number[]
  ddevs: number[]
  limit?: number
}

export class Rebalancer {
  private readonly sleeper = new Sleeper()
  private stopped = false
  private loopP?: Promise<void>
  private plan?: RebalPlan
  private after = new Map<number, number>()
  private counters = { fids_moved: 0, fids_failed: 0, bytes_moved: 0 }
  private started = 0

  constructor(
    private readonly store: MetadataStore,
    private readonly state: ClusterState,
    private readonly timeoutMs: number,
    private readonly minFreeMb: number,
  ) {}

  start(): void {
    this.loopP = (async () => {
      // A rebalance this host ran before a restart is not resumed: mark it stopped.
      if ((await this.store.setting('rebal_host').catch(() => undefined)) === os.hostname()) await this.store.setSetting('rebal_host', undefined).catch(() => {})
      // Why 1 s when idle: background work; rebalance_start wakes us at once.
      await jobLoop({ step: () => this.step(), sleeper: this.sleeper, idleMs: 1000, stopped: () => this.stopped, onError: (e) => log.error({ err: e }, 'rebalance step failed') })
    })()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.sleeper.wake()
    await this.loopP
  }

  running(): boolean {
    return !!this.plan
  }

  async begin(plan: RebalPlan): Promise<void> {
    this.plan = plan
    this.after = new Map(plan.sdevs.map((d) => [d, 0]))
    this.counters = { fids_moved: 0, fids_failed: 0, bytes_moved: 0 }
    this.started = unixNow()
    await this.store.setSetting('rebal_host', os.hostname())
    await this.saveState(false)
    this.sleeper.wake()
  }

  async end(completed: boolean): Promise<void> {
    this.plan = undefined
    await this.store.setSetting('rebal_host', undefined)
    await this.saveState(completed)
  }

  private async saveState(completed: boolean): Promise<void> {
    const p = this.plan
    const parts = [`time_started=${this.started}`, `completed=${completed ? 1 : 0}`, ...Object.entries(this.counters).map(([k, v]) => `${k}=${v}`)]
    if (p) parts.push(`sdevs=${p.sdevs.join(',')}`, `ddevs=${p.ddevs.join(',')}`)
    await this.store.setSetting('rebal_state', parts.join(' '))
  }

  /** Move up to 20 fids; false when idle. */
  private async step(): Promise<boolean> {
    const p = this.plan
    if (!p) return false
    for (const sdev of p.sdevs) {
      const fids = await this.store.files.fidsOnDevice(sdev, 20, this.after.get(sdev) ?? 0)
      if (!fids.length) continue
      for (const fid of fids) {
        if (!this.plan || (p.limit && this.counters.fids_moved >= p.limit)) break
        this.after.set(sdev, fid)
        const moved = await fidLocks.run(String(fid), () => this.move(fid, sdev, p.ddevs)).catch((e) => {
          log.warn({ fid, sdev, err: (e as Error).message }, 'rebalance move failed')
          return false
        })
        if (moved) this.counters.fids_moved++
        else this.counters.fids_failed++
      }
      await this.saveState(false)
      if (p.limit && this.counters.fids_moved >= p.limit) break
      return true
    }
    if (this.plan === p) await this.end(true)
    return false
  }

  /** Copy fid from sdev to one destination, record it, then remove the source copy. */
  private async move(fid: number, sdev: number, ddevs: number[]): Promise<boolean> {
    const st = this.state
    const files = this.store.files
    const f = await files.byFid(fid)
    if (!f) return false
    const have = new Set(await files.devids(fid))
    if (!have.has(sdev)) return false
    const src = st.devices.get(sdev)
    const sh = src && st.hosts.get(src.hostid)
    if (!src || !sh || !st.canRead(src)) return false
    const hostsWith = new Set([...have].filter((d) => d !== sdev).map((d) => st.devices.get(d)?.hostid))
    const cand = ddevs.map((d) => st.devices.get(d)).filter((d): d is NonNullable<typeof d> => !!d && !have.has(d.devid) && st.canWrite(d, this.minFreeMb))
    const ordered = [...weightedShuffle(cand.filter((d) => !hostsWith.has(d.hostid)), (d) => st.mbFree(d)), ...weightedShuffle(cand.filter((d) => hostsWith.has(d.hostid)), (d) => st.mbFree(d))]
    const dest = ordered[0]
    if (!dest) return false
    const r = await copy(fidUrl(sh, sdev, fid), fidUrl(st.hosts.get(dest.hostid)!, dest.devid, fid), this.timeoutMs)
    if (r.size !== Number(f.length)) throw new Error(`copied ${r.size} bytes, expected ${f.length}`)
    if ((await files.recordCopy(fid, dest.devid, false)) === 'gone') return false
    // The new copy is recorded: now the source copy may go.
    await files.removeFileOn(fid, sdev)
    await files.updateDevcount(fid)
    await httpDelete(fidUrl(sh, sdev, fid), this.timeoutMs).catch(() => false)
    this.counters.bytes_moved += r.size
    return true
  }
}
