/**
 * Callers waiting until a sync sender's peer acknowledged a binlog position
 * (upload_min_copies). Owned by one PeerSender, which calls `notify()` when
 * its acknowledged position moves and `cancelAll()` when it stops.
 */
import type { BinlogPosition } from '../../../engine/binlog/binlog.js'

interface Waiter {
  pos: BinlogPosition
  resolve: (v: boolean) => void
  timer: NodeJS.Timeout
}

export class AckWaiters {
  private waiters = new Set<Waiter>()

  /** `reached(pos)`: has the peer acknowledged everything up to `pos`? */
  constructor(private readonly reached: (pos: BinlogPosition) => boolean) {}

  /** Resolves true once `reached(pos)`, false after `ms` (a timeout, not an error: the caller decides). */
  wait(pos: BinlogPosition, ms: number): Promise<boolean> {
    if (this.reached(pos)) return Promise.resolve(true)
    return new Promise((resolve) => {
      const w: Waiter = { pos, resolve, timer: setTimeout(() => this.settle(w, false), ms) }
      this.waiters.add(w)
    })
  }

  notify(): void {
    if (!this.waiters.size) return
    for (const w of [...this.waiters]) if (this.reached(w.pos)) this.settle(w, true)
  }

  cancelAll(): void {
    for (const w of [...this.waiters]) this.settle(w, false)
  }

  private settle(w: Waiter, v: boolean): void {
    clearTimeout(w.timer)
    this.waiters.delete(w)
    w.resolve(v)
  }
}
