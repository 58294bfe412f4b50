/**
 * One sync connection to a peer storage: REPORT_SERVER_ID on connect, then
 * pipelined storage-to-storage requests whose replies come back in request
 * order. A PeerSender (peer-sender.ts) drives one or more lanes to the same
 * peer (`sync_max_threads`, as the C storage's sync thread pool since V6.15):
 * it decides which record goes on which lane; a lane only writes requests and
 * matches replies.
 *
 * Failure model: a lane that fails (I/O error, bad reply, peer closed) is
 * `broken`; every request pending on it settles with -1 and the sender tears
 * down all its lanes and reconnects. Absent socket = not open.
 */
import type net from 'node:net'
import type { ReadHandle } from '../../../engine/blob/blob-store.js'
import type { SocketReader } from '../../../server/socket-reader.js'
import { readLong } from '../protocol/header.js'
import { ERRNO } from '../protocol/constants.js'
import { connectPeer } from './peer-connect.js'
import { nativeIoInFlight } from '../../../engine/io/pool-slots.js'
import { writeWithBody } from './socket-write.js'
import type { PeerAddress, SyncSource } from './sender-types.js'
import { logger } from '../../../log.js'

const log = logger('fastdfs.sync')

/** Status value meaning "nothing to send: the source file is gone". */
export const SKIPPED = 1000

/** A built request: a head, and the body to stream after it (absent = the head is the whole request). */
export type SyncRequest = { head: Buffer; body?: ReadHandle }

export class SyncLane {
  sock?: net.Socket
  private reader?: SocketReader
  connected = false
  /** Why the lane failed; set once, then every pending and later request settles with -1. */
  broken?: Error
  private inflight: Array<(status: number) => void> = []
  private inflightWake?: () => void
  private chain: Promise<void> = Promise.resolve()
  /** Requests queued on `chain` whose writes have not all been issued yet (writeNow writes only at 0). */
  queued = 0
  /**
   * Binlog records the sender has put on this lane and not finished (a record may take two
   * requests: a fallback follows an ENOENT). The sender's window and lane choice count these.
   */
  records = 0
  private settleWake?: () => void
  /** Stall watchdog (see open): progress seen at the previous tick, and ticks without any. */
  private watchdog?: NodeJS.Timeout
  private mark = -1
  private still = 0
  private corked = false
  /** A body is streaming (writeWithBody): the socket must stay uncorked until it is done. */
  private streaming = false
  private replies?: Promise<void>

  constructor(
    private readonly src: SyncSource,
    private readonly peer: PeerAddress,
    readonly index: number,
  ) {}

  /** Connect, announce ourselves and start matching replies. Rejects when the peer is down or refuses us. */
  async open(): Promise<void> {
    this.broken = undefined
    this.inflight = []
    this.chain = Promise.resolve()
    this.queued = 0
    this.records = 0
    this.corked = false
    this.streaming = false
    // Why 5 s: a peer on the same LAN answers in microseconds; longer means it is down.
    const { sock, reader } = await connectPeer({ host: this.peer.host, port: this.peer.port, localAddress: this.src.localAddress, myId: this.src.myId, timeoutMs: 5_000 })
    this.sock = sock
    this.reader = reader
    this.connected = true
    this.replies = this.replyLoop()
    // Why a watchdog: a peer that takes a request and never answers (a real storage that missed a
    // pipelined request, a hung process) would hold this lane, and every record behind it, for
    // good. The same rule as the storage's own stall sweep: records pending and no byte in or out
    // for network_timeout (checked every half of it, so after 1 to 1.5 of them) drops the lane,
    // and the sender reconnects and re-sends from its acknowledged position.
    const timeoutMs = this.src.networkTimeoutMs ?? 60_000
    this.watchdog = setInterval(() => this.checkStall(), Math.max(100, Math.floor(timeoutMs / 2)))
    this.watchdog.unref()
    log.debug({ peer: this.peer.id, lane: this.index }, 'sync lane up')
  }

  private checkStall(): void {
    const sock = this.sock
    if (!sock || !this.reader) return
    const progress = this.reader.received + sock.bytesWritten
    if (this.records === 0 || progress !== this.mark || nativeIoInFlight(sock)) {
      this.mark = progress
      this.still = 0
      return
    }
    if (++this.still < 2) return
    log.warn({ peer: this.peer.id, lane: this.index, pending: this.records }, 'sync peer sent no reply for network_timeout; reconnecting')
    this.broken ??= new Error('no reply from the peer for network_timeout')
    sock.destroy()
  }

  /** Start of a record on this lane (the sender calls `recordDone` when it is finished, whatever the outcome). */
  beginRecord(): void {
    this.records++
  }

  recordDone(): void {
    this.records--
    this.wakeSettled()
  }

  private wakeSettled(): void {
    const w = this.settleWake
    this.settleWake = undefined
    w?.()
  }

  /** Drop the connection and wait until every pending request has settled. */
  async close(): Promise<void> {
    this.connected = false
    clearInterval(this.watchdog)
    this.watchdog = undefined
    this.sock?.destroy()
    this.inflightWake?.()
    await this.replies
    this.replies = undefined
    this.sock = undefined
  }

  /** Wakes when a record of this lane is finished (or the lane breaks). */
  settled(): Promise<void> {
    return new Promise<void>((r) => (this.settleWake = r))
  }

  /** Read one reply header (+ discard any body: V6.16.1 echoes a body on SYNC_RENAME). */
  private async readReply(): Promise<number> {
    // Synchronous when the reply is already buffered (pipelined replies arrive several per read).
    const h = this.reader!.tryRead(10) ?? (await this.reader!.read(10))
    const len = readLong(h, 0)
    if (len < 0 || len > 1 << 20) throw new Error(`bad reply length ${len}`)
    if (len > 0) await this.reader!.skip(len)
    return h[9]
  }

  /** Replies come back in request order; this loop settles them. On failure every pending request gets -1. */
  private async replyLoop(): Promise<void> {
    try {
      for (;;) {
        while (!this.inflight.length) {
          if (!this.connected) return
          await new Promise<void>((r) => (this.inflightWake = r))
          this.inflightWake = undefined
        }
        const st = await this.readReply()
        this.inflight.shift()!(st)
      }
    } catch (e) {
      this.broken = e as Error
    } finally {
      this.broken ??= new Error('sync connection closed')
      this.connected = false
      for (const r of this.inflight.splice(0)) r(-1)
      this.wakeSettled()
    }
  }

  /**
   * Write coalescing: the requests of one batch of binlog records are written
   * while the socket is corked and go out in one writev when the chained
   * writes reach the uncork step (`flushQueued`), instead of a syscall (and a
   * peer wakeup) per record. Large bodies uncork first (they stream with
   * backpressure, and 'drain' never comes while corked), and no cork is taken
   * while one streams: a write callback the send waits for (the header
   * flushed before sendfile) would wait for an uncork queued behind the send.
   */
  corkOnce(): void {
    if (this.corked || this.streaming || !this.sock) return
    this.sock.cork()
    this.corked = true
  }

  private uncorkNow(): void {
    if (!this.corked) return
    this.corked = false
    this.sock?.uncork()
  }

  /** Uncork once every write queued so far has been issued. */
  flushQueued(): void {
    this.chain = this.chain.then(() => this.uncorkNow())
  }

  /**
   * A request whose bytes are ready (`framed`: head and body in one buffer), written at once.
   * Only while nothing is queued on `chain` (else it would overtake queued writes); undefined
   * when that does not hold, and the caller queues it with `request`.
   */
  writeNow(framed: Buffer): Promise<number> | undefined {
    if (this.queued !== 0 || this.broken || !this.sock) return undefined
    const result = new Promise<number>((resolve) => this.inflight.push(resolve))
    this.inflightWake?.()
    this.sock.write(framed)
    return result
  }

  /**
   * Queue one request. Writes are serialised on `chain` so each request's bytes
   * are contiguous on the socket and replies match the inflight order. `build`
   * returns undefined to skip (the source file vanished). Resolves with the
   * reply status, SKIPPED, EIO when the request could not be built, or -1 when
   * the connection failed.
   */
  request(build: () => Promise<SyncRequest | undefined>): Promise<number> {
    let result: Promise<number> = Promise.resolve(-1)
    this.queued++
    const step = this.chain.then(async () => {
      if (this.broken || !this.sock) return
      let req
      try {
        req = await build()
      } catch (e) {
        // A local failure (bad name in the binlog, I/O error) is this record's problem, not the connection's: park it.
        log.warn({ peer: this.peer.id, err: (e as Error).message }, 'cannot build sync request')
        result = Promise.resolve(ERRNO.EIO)
        return
      }
      if (!req) {
        result = Promise.resolve(SKIPPED)
        return
      }
      if (this.broken || !this.sock) {
        req.body?.stream.destroy()
        return
      }
      result = new Promise<number>((resolve) => this.inflight.push(resolve))
      this.inflightWake?.()
      try {
        if (req.body?.buffer) {
          this.sock.write(req.head)
          this.sock.write(req.body.buffer)
        } else if (req.body) {
          this.uncorkNow()
          this.streaming = true
          // Why network_timeout (60 s by default): the same "no progress for this long" rule the
          // storage applies to client transfers; a peer that stops reading releases the send.
          await writeWithBody(this.sock, req.head, req.body, this.src.networkTimeoutMs ?? 60_000)
        } else this.sock.write(req.head)
      } catch (e) {
        req.body?.stream.destroy()
        this.broken ??= e as Error
        this.sock.destroy()
      } finally {
        this.streaming = false
      }
    })
    const left = (): void => {
      this.queued--
    }
    step.then(left, left)
    this.chain = step.catch(() => {})
    return step.then(
      () => result,
      () => -1,
    )
  }
}
