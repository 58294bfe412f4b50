/**
 * Fsck job (spec §4): walks every fid from `fsck_highest_fid_checked` to
 * `fsck_fid_at_end` (queued in file_to_queue type 1), checks each copy with a
 * HEAD and fixes what it can, logging evcodes to fsck_log:
 *   NOPA no file_on rows · SRCH searched all devices · FOND found a lost copy ·
 *   GONE no copy anywhere · MISS a listed copy is missing · BLEN wrong length ·
 *   REPL re-queued for replication · POVI policy violation · BCNT devcount wrong.
 * With a checksum (class hashtype, or server setting fsck_checksum = MD5|SHA-1;
 * `off` disables) each copy is digested via the mgmt port (HTTP GET fallback):
 *   BSUM a copy disagrees with the stored checksum (forgotten and re-replicated,
 *        but only when another copy matches) · NSUM no stored checksum (stored
 *        when every copy agrees) · MSUM copies disagree and nothing is stored.
 * Progress lives in server_settings (fsck_host, fsck_highest_fid_checked,
 * fsck_fid_at_end, fsck_start_time, fsck_stop_time) like the reference.
 */
import os from 'node:os'
import type { MetadataStore } from '../db/store.js'
import type { DeviceRow } from '../db/types.js'
import { QUEUE_FSCK, unixNow } from '../db/types.js'
import type { ClusterState } from '../tracker/state.js'
import { fidUrl } from '../tracker/paths.js'
import { headSize, httpDigest, mgmtDigest } from '../tracker/storage-http.js'
import { HASHNAMES, HASHTYPES } from '../db/types.js'
import { multipleHosts, policyMin } from './policy.js'
import { fidLocks } from './fid-locks.js'
import { jobLoop, Sleeper } from './sleeper.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.fsck')
const LEASE_SEC = 120

export class Fsck {
  private readonly sleeper = new Sleeper()
  private stopped = false
  private loopP?: Promise<void>

  constructor(
    private readonly store: MetadataStore,
    private readonly state: ClusterState,
    private readonly timeoutMs: number,
    private readonly minFreeMb: number,
    private readonly onReplicate: (fid: number) => void,
    private readonly mgmtPort: number,
  ) {}

  start(): void {
    // Why 1 s when idle: fsck is background work; a start command wakes us at once.
    this.loopP = jobLoop({ step: () => this.step(), sleeper: this.sleeper, idleMs: 1000, stopped: () => this.stopped, onError: (e) => log.error({ err: e }, 'fsck step failed') })
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.sleeper.wake()
    await this.loopP
  }

  running(): boolean {
    return !!this.state.settings.fsck_host
  }

  /** fsck_start: resume from the saved position up to the current highest fid. */
  async begin(): Promise<void> {
    const s = this.store
    await s.setSetting('fsck_host', os.hostname())
    await s.setSetting('fsck_fid_at_end', String(await s.files.maxFid()))
    if (!(await s.setting('fsck_start_time'))) await s.setSetting('fsck_start_time', String(unixNow()))
    await s.setSetting('fsck_stop_time', undefined)
    this.state.settings.fsck_host = os.hostname()
    this.sleeper.wake()
  }

  async end(): Promise<void> {
    await this.store.setSetting('fsck_host', undefined)
    await this.store.setSetting('fsck_stop_time', String(unixNow()))
    await this.store.queues.clearTyped(QUEUE_FSCK)
    delete this.state.settings.fsck_host
  }

  /** fsck_reset: forget the position (and the policy_only flag). */
  async reset(policyOnly: boolean, startpos: number): Promise<void> {
    const s = this.store
    await s.setSetting('fsck_highest_fid_checked', String(startpos))
    await s.setSetting('fsck_opt_policy_only', policyOnly ? '1' : '0')
    await s.setSetting('fsck_start_time', undefined)
    await s.setSetting('fsck_stop_time', undefined)
  }

  /** One batch: top up the queue, check claimed fids. Returns whether anything happened. */
  private async step(): Promise<boolean> {
    if (!(await this.store.setting('fsck_host'))) return false
    const q = this.store.queues
    const highest = Number((await this.store.setting('fsck_highest_fid_checked')) ?? 0)
    const end = Number((await this.store.setting('fsck_fid_at_end')) ?? 0)
    const queuedTo = Number((await this.store.setting('fsck_queued_to')) ?? highest)
    if ((await q.typedDepth(QUEUE_FSCK)) < 50 && queuedTo < end) {
      const upTo = await q.enqueueFsckRange(Math.max(queuedTo, highest), 100)
      await this.store.setSetting('fsck_queued_to', String(upTo === Math.max(queuedTo, highest) ? end : upTo))
    }
    const fids = await q.claimTyped(QUEUE_FSCK, 50, LEASE_SEC)
    if (!fids.length) {
      if (queuedTo >= end) {
        await this.store.setSetting('fsck_highest_fid_checked', String(end))
        await this.store.setSetting('fsck_queued_to', undefined)
        await this.end()
        log.info({ end }, 'fsck finished')
      }
      return false
    }
    let max = highest
    for (const fid of fids) {
      await fidLocks.run(String(fid), () => this.check(fid))
      await q.doneTyped(QUEUE_FSCK, fid)
      if (fid > max) max = fid
    }
    await this.store.setSetting('fsck_highest_fid_checked', String(max))
    return true
  }

  /** Check and repair one fid. */
  async check(fid: number): Promise<void> {
    const files = this.store.files
    const f = await files.byFid(fid)
    if (!f) return
    const st = this.state
    const len = Number(f.length)
    const policyOnly = (await this.store.setting('fsck_opt_policy_only')) === '1'
    let devids = await files.devids(fid)
    let needRepl = false
    if (!devids.length) {
      await this.store.queues.fsckLog('NOPA', fid)
      await this.store.queues.fsckLog('SRCH', fid)
      for (const d of st.devices.values()) {
        if (!st.canRead(d)) continue
        const size = await headSize(fidUrl(st.hosts.get(d.hostid)!, d.devid, fid), this.timeoutMs).catch(() => undefined)
        if (size === len) {
          await files.addFileOn(fid, d.devid)
          await this.store.queues.fsckLog('FOND', fid, d.devid)
        }
      }
      devids = await files.devids(fid)
      if (!devids.length) {
        await this.store.queues.fsckLog('GONE', fid)
        await files.updateDevcount(fid)
        return
      }
      needRepl = true
    } else if (!policyOnly) {
      for (const devid of devids) {
        const d = st.devices.get(devid)
        if (!d || !st.canRead(d)) continue
        let size: number | undefined
        try {
          size = await headSize(fidUrl(st.hosts.get(d.hostid)!, devid, fid), this.timeoutMs)
        } catch {
          continue // unreachable: can't tell, leave the copy alone
        }
        if (size === len) continue
        await this.store.queues.fsckLog(size === undefined ? 'MISS' : 'BLEN', fid, devid)
        await files.removeFileOn(fid, devid)
        needRepl = true
      }
      devids = await files.devids(fid)
      if (!devids.length) {
        await this.store.queues.fsckLog('GONE', fid)
        await files.updateDevcount(fid)
        return
      }
      const c = st.classById(Number(f.dmid), Number(f.classid))
      const mode = st.settings.fsck_checksum
      const alg = mode === 'off' ? undefined : mode === 'MD5' || mode === 'SHA-1' ? mode : c.hashtype ? HASHNAMES[c.hashtype] : undefined
      if (alg && (await this.checkSums(fid, alg as 'MD5' | 'SHA-1', devids, c.hashtype))) {
        needRepl = true
        devids = await files.devids(fid)
      }
    }
    const cls = st.classById(Number(f.dmid), Number(f.classid))
    const onDevs = devids.map((id) => st.devices.get(id)).filter((d): d is DeviceRow => !!d && d.status !== 'dead')
    const pol = multipleHosts({ onDevs, allDevs: [...st.devices.values()], min: policyMin(cls.replpolicy) ?? cls.mindevcount, canWrite: (d) => st.canWrite(d, this.minFreeMb), mbFree: (d) => st.mbFree(d), isAlive: (d) => st.shouldHold(d) })
    if (pol.kind === 'copy') {
      if (!needRepl) await this.store.queues.fsckLog('POVI', fid)
      needRepl = true
    }
    if (devids.length !== Number(f.devcount)) {
      await this.store.queues.fsckLog('BCNT', fid)
      await files.updateDevcount(fid)
    }
    if (needRepl && devids.length) {
      await this.store.queues.fsckLog('REPL', fid)
      await this.store.queues.enqueueReplicate(fid, 0)
      this.onReplicate(fid)
    }
  }

  /** Digest every readable copy and compare (see evcodes above). True when a bad copy was forgotten. */
  private async checkSums(fid: number, alg: 'MD5' | 'SHA-1', devids: number[], classHashtype: number | null): Promise<boolean> {
    const st = this.state
    const files = this.store.files
    const stored = await files.checksum(fid)
    const name = (stored ? HASHNAMES[stored.hashtype] : alg) as 'MD5' | 'SHA-1'
    const sums = new Map<number, Buffer>()
    for (const devid of devids) {
      const d = st.devices.get(devid)
      const h = d && st.hosts.get(d.hostid)
      if (!d || !h || !st.canRead(d)) continue
      const url = fidUrl(h, devid, fid)
      const uri = url.replace(/^http:\/\/[^/]+/, '')
      // Digesting is slow for big files: allow far more than a HEAD.
      let dig = await mgmtDigest(h.hostip, this.mgmtPort, uri, name, 10 * 60_000).catch(() => undefined)
      if (!dig) dig = await httpDigest(url, name === 'MD5' ? 'md5' : 'sha1', 10 * 60_000).catch(() => undefined)
      if (dig) sums.set(devid, dig)
    }
    if (!sums.size) return false
    if (stored) {
      const bad = [...sums].filter(([, d]) => !d.equals(stored.digest)).map(([devid]) => devid)
      const good = sums.size - bad.length
      for (const devid of bad) {
        await this.store.queues.fsckLog('BSUM', fid, devid)
        // Never forget the last copies: only drop bad ones when a good one exists.
        if (good > 0) await files.removeFileOn(fid, devid)
      }
      return good > 0 && bad.length > 0
    }
    const distinct = new Set([...sums.values()].map((d) => d.toString('hex')))
    if (distinct.size > 1) {
      await this.store.queues.fsckLog('MSUM', fid)
      return false
    }
    await this.store.queues.fsckLog('NSUM', fid)
    const ht = HASHTYPES[name]
    if (classHashtype === ht) await files.setChecksum(fid, ht, [...sums.values()][0])
    return false
  }
}
