/**
 * Reaper job (spec §4): every 5 s, for each device marked `dead`, queue its
 * fids for re-replication and forget the dead copies (1000 fids per pass).
 * Replication is queued BEFORE the file_on row is dropped, so a crash between
 * the two never loses the need for a new copy.
 */
import type { MetadataStore } from '../db/store.js'
import { fidLocks } from './fid-locks.js'
import { Sleeper } from './sleeper.js'
import type { ClusterState } from '../tracker/state.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.reaper')

/** Why 5 s: the reference interval; a dead device is an operator action, not a hot path. */
const INTERVAL_MS = 5000

export class Reaper {
  private readonly sleeper = new Sleeper()
  private stopped = false
  private loopP?: Promise<void>
  reaped = 0

  constructor(
    private readonly store: MetadataStore,
    private readonly state: ClusterState,
    private readonly onQueued: () => void,
  ) {}

  start(): void {
    this.loopP = (async () => {
      while (!this.stopped) {
        try {
          await this.pass()
        } catch (e) {
          log.error({ err: e }, 'reaper pass failed')
        }
        await this.sleeper.sleep(INTERVAL_MS)
      }
    })()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.sleeper.wake()
    await this.loopP
  }

  wake(): void {
    this.sleeper.wake()
  }

  /** One pass over every dead device; returns the number of fids queued. */
  async pass(): Promise<number> {
    let n = 0
    for (const d of this.state.devices.values()) {
      if (d.status !== 'dead') continue
      const fids = await this.store.files.fidsOnDevice(d.devid, 1000)
      for (const fid of fids) {
        await fidLocks.run(String(fid), async () => {
          await this.store.queues.enqueueReplicate(fid, 0)
          await this.store.files.removeFileOn(fid, d.devid)
          await this.store.files.updateDevcount(fid)
        })
        n++
      }
      if (fids.length) log.info({ devid: d.devid, count: fids.length }, 'dead device: queued fids for re-replication')
    }
    this.reaped += n
    if (n) this.onQueued()
    return n
  }
}
