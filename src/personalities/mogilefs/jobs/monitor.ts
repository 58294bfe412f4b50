/**
 * Monitor job (spec §2.5, §4): every `interval` seconds GET /dev<N>/usage from
 * each device's host, and every 15 s per device do a write test (PUT a small
 * file under dev<N>/test-write/ and read it back). Sets the observed state of
 * devices (writeable/readable/unreachable) and hosts (reachable/unreachable)
 * in ClusterState, and writes mb_total/mb_used/mb_asof into device rows (at
 * most every 15 s per device). Also reloads the cluster view from the DB each
 * round so changes made by other trackers show up.
 */
import type { MetadataStore } from '../db/store.js'
import { unixNow } from '../db/types.js'
import type { ClusterState } from '../tracker/state.js'
import { hostBase } from '../tracker/paths.js'
import { request } from '../tracker/storage-http.js'
import { logger } from '../../../log.js'

const log = logger('mogilefs.monitor')

/** Why 15 s: matches the reference; write tests and DB updates are the costly part. */
const WRITE_TEST_EVERY_MS = 15_000
const DB_UPDATE_EVERY_MS = 15_000

export class Monitor {
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  /** A round requested while one was running: it starts right after (it must see devices added meanwhile). */
  private next?: Promise<void>
  private firstDone!: () => void
  readonly first: Promise<void>
  private lastWriteTest = new Map<number, number>()
  private lastDbUpdate = new Map<number, number>()
  private lastUsage = new Map<number, string>()
  private stopped = false

  constructor(
    private readonly store: MetadataStore,
    private readonly state: ClusterState,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    this.first = new Promise((r) => (this.firstDone = r))
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return
      this.round()
        .catch((e) => log.error({ err: e }, 'monitor round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs)
        })
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running?.catch(() => {})
  }

  /** One full round (also used by `do_monitor_round`); concurrent callers share it. */
  round(): Promise<void> {
    if (this.running) {
      // The running round may have loaded the device list before the caller's change.
      this.next ??= this.running.then(() => {
        this.next = undefined
        return this.round()
      })
      return this.next
    }
    {
      this.running = this.doRound().finally(() => {
        this.running = undefined
        this.firstDone()
      })
    }
    return this.running
  }

  private async doRound(): Promise<void> {
    await this.state.refresh()
    const hostFail = new Map<number, boolean>()
    await Promise.all(
      [...this.state.devices.values()].map(async (d) => {
        const h = this.state.hosts.get(d.hostid)
        if (!h || d.status === 'dead' || h.status === 'dead') {
          this.state.devObserved.delete(d.devid)
          return
        }
        const base = hostBase(h, true)
        const t0 = Date.now()
        try {
          const r = await request('GET', `${base}/dev${d.devid}/usage`, this.timeoutMs)
          if (r.status !== 200) throw new Error(`usage answered ${r.status}`)
          const kv = Object.fromEntries(r.body.toString('latin1').split('\n').map((l) => l.split(/:\s*/, 2)).filter((p) => p.length === 2)) as Record<string, string>
          const total = Number(kv.total)
          const used = Number(kv.used)
          if (Number.isFinite(total) && Number.isFinite(used)) {
            const mbTotal = Math.floor(total / 1024)
            const mbUsed = Math.floor(used / 1024)
            d.mb_total = mbTotal
            d.mb_used = mbUsed
            this.state.observedUsage.set(d.devid, { mbTotal, mbUsed })
            const sig = `${mbTotal}/${mbUsed}`
            const last = this.lastDbUpdate.get(d.devid) ?? 0
            if (Date.now() - last >= DB_UPDATE_EVERY_MS || this.lastUsage.get(d.devid) === undefined) {
              this.lastDbUpdate.set(d.devid, Date.now())
              this.lastUsage.set(d.devid, sig)
              await this.store.updateDevice(d.devid, { mb_total: mbTotal, mb_used: mbUsed, mb_asof: unixNow() })
            }
          }
          hostFail.set(h.hostid, hostFail.get(h.hostid) ?? false)
          const prev = this.state.devObserved.get(d.devid)
          const lastW = this.lastWriteTest.get(d.devid) ?? 0
          if (prev !== 'writeable' || Date.now() - lastW >= WRITE_TEST_EVERY_MS) {
            this.lastWriteTest.set(d.devid, Date.now())
            const ok = await this.writeTest(h.hostip, h.http_port, d.devid).catch(() => false)
            this.setDev(d.devid, ok ? 'writeable' : 'readable')
          }
        } catch (e) {
          // A fast failure means the device (dir) is broken; a slow one means the host is.
          if (Date.now() - t0 < 500) this.setDev(d.devid, 'unreachable')
          else {
            this.setDev(d.devid, 'unreachable')
            hostFail.set(h.hostid, true)
          }
          log.debug({ err: (e as Error).message, devid: d.devid }, 'device probe failed')
        }
      }),
    )
    for (const [hostid, failed] of hostFail) this.state.hostObserved.set(hostid, failed ? 'unreachable' : 'reachable')
  }

  private setDev(devid: number, s: 'writeable' | 'readable' | 'unreachable'): void {
    const prev = this.state.devObserved.get(devid)
    if (prev !== s) log.info({ devid, from: prev ?? 'unknown', to: s }, 'device observed state changed')
    this.state.devObserved.set(devid, s)
  }

  private async writeTest(ip: string, port: number, devid: number): Promise<boolean> {
    const n = Math.floor(Math.random() * 100)
    const url = `http://${ip}:${port}/dev${devid}/test-write/test-write-${n}`
    const body = Buffer.from(`time=${unixNow()} rand=${n}`)
    const put = await request('PUT', url, this.timeoutMs, body)
    if (put.status < 200 || put.status >= 300) return false
    const get = await request('GET', url, this.timeoutMs)
    return get.status === 200 && get.body.equals(body)
  }
}
