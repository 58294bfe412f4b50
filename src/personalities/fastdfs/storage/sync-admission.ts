/**
 * Keeps large uploads from outrunning replication (tandemfs extension
 * `upload_sync_backlog_max`, in large uploads; default 1024, 0 = off).
 *
 * Why: each peer is fed by one sync connection, while clients upload over many. On shared CPUs
 * every stream gets about the same share, so with 8 clients pushing 1 MiB files into a
 * two-storage group the replicas fell further behind every second: measured, 1,100 of 1,300
 * uploads of a 3-second burst still had one copy when it ended, and the last second copies came
 * ~2 s later (a replica 84 days behind is a classic FastDFS complaint, fdfs#52). Here a large
 * upload is admitted only while fewer than `max` earlier large uploads of this storage still
 * wait for their copies on the connected peers; otherwise it waits (its body stays in the
 * kernel, so the client simply sends more slowly) for the oldest of them.
 *
 * A peer that stops acknowledging must not hold uploads hostage: when the oldest upload's copy
 * has not arrived within `stallMs`, admission is switched off for `offMs` (and the pending list
 * dropped), so uploads run at full speed while the peer is stuck, as without this rule. No
 * connected peer: nothing is tracked.
 *
 * Who calls it: the storage's full upload handler (handlers-upload.ts), `admit()` before
 * receiving a large body and `note(pos)` with the binlog position of its record afterwards.
 */
import type { BinlogPosition } from '../../../engine/binlog/binlog.js'

export interface SyncAdmissionOptions {
  /** Large uploads allowed to wait for their copies at once; 0 turns the rule off. */
  max: number
  /** Resolves true once `copies` connected peers acknowledged `pos`, false after `ms`. */
  waitCopies(pos: BinlogPosition, copies: number, ms: number): Promise<boolean>
  /** Peers with a live sync connection now. */
  connectedPeers(): number
  /** How long the oldest upload may wait for its copies before the rule is suspended. */
  stallMs: number
  /** How long the rule stays suspended after a stall. */
  offMs: number
}

export class SyncAdmission {
  private pending: Array<Promise<boolean>> = []
  private offUntil = 0

  constructor(private readonly o: SyncAdmissionOptions) {}

  /** Resolves when a large upload may start receiving its body. */
  async admit(): Promise<void> {
    while (this.pending.length >= this.o.max && this.o.max > 0 && Date.now() >= this.offUntil) {
      const oldest = this.pending.shift()!
      if (!(await oldest)) {
        this.offUntil = Date.now() + this.o.offMs
        this.pending = []
      }
    }
  }

  /** A large upload was stored and recorded at `pos`: track its copies. */
  note(pos: BinlogPosition): void {
    if (this.o.max <= 0 || Date.now() < this.offUntil) return
    const peers = this.o.connectedPeers()
    if (peers === 0) return
    this.pending.push(this.o.waitCopies(pos, peers, this.o.stallMs))
  }

  /** Large uploads of this storage whose copies are still awaited (for tests and metrics). */
  get waiting(): number {
    return this.pending.length
  }
}
