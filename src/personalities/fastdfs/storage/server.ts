/**
 * The FastDFS storage server: TcpServer + one request loop per connection.
 * Every request is `header(10) + body`; replies use command 100 with an errno
 * status. Framing errors (negative or absurd lengths) close the connection like
 * the real server; command errors reply with the errno and keep the connection.
 * Started by the fdfs_storaged CLI (startStorage), which also runs the tracker reporter.
 */
import type { Socket } from 'node:net'
import { TcpServer } from '../../../server/tcp-server.js'
import { PeerClosedError, SocketReader } from '../../../server/socket-reader.js'
import { logger } from '../../../log.js'
import { COMMON_CMD, ERRNO, HEADER_SIZE, STORAGE_CMD as C } from '../protocol/constants.js'
import { errnoOf, StorageError } from './errors.js'
import { handleAppend, handleModify, handleRegenerate, handleTruncate, handleUpload, handleUploadSlave, uploadNow, type StorageContext } from './handlers-upload.js'
import { downloadNow, handleDelete, handleDownload, handleGetMeta, handleQueryInfo, handleSetMeta } from './handlers-file.js'
import { SYNC_HANDLERS, syncCreateNow } from './handlers-sync.js'
import { readLen, Request, statusReply } from './request.js'
import { countRequest } from '../../../server/process-metrics.js'
import { nativeIoInFlight } from '../../../engine/io/pool-slots.js'

const log = logger('fastdfs.storage')

/** Commands whose body carries file bytes (streamed, may exceed buff_size). */
const STREAMING = new Set<number>([C.UPLOAD_FILE, C.UPLOAD_APPENDER_FILE, C.UPLOAD_SLAVE_FILE, C.APPEND_FILE, C.MODIFY_FILE, C.SYNC_CREATE_FILE, C.SYNC_UPDATE_FILE, C.SYNC_APPEND_FILE, C.SYNC_MODIFY_FILE])
/** Bodies from this size on are held in the kernel for a native receive (SocketReader.holdReads). */
const HOLD_MIN = 256 * 1024
/** Largest file body we accept in one request (a sanity bound, not a quota: 1 PiB). */
const MAX_FILE_BODY = 2 ** 50
/**
 * After an error reply we read and drop the rest of the body so the client,
 * which sends everything before reading, gets our errno. Why 64 MiB: beyond that
 * draining costs more than the client reconnecting, so we close instead.
 */
const DRAIN_MAX = 64 * 1024 * 1024

export interface StorageServerOptions {
  host: string
  port: number
  ctx: StorageContext
  /** Max control body (buff_size). */
  buffSize: number
  /** Seconds a started request may stall before the connection is dropped (network_timeout). */
  networkTimeout: number
}

/** A connection as the stall sweeper sees it. */
interface Live {
  sock: Socket
  reader: SocketReader
  /** Inside a request (only those can stall). */
  busy: boolean
  /** Bytes in + out at the previous sweep, and how many sweeps saw no change. */
  mark: number
  still: number
}

/**
 * Drops connections whose request made no progress (no byte in or out) for
 * network_timeout. Why one sweeper instead of sock.setTimeout per request:
 * arming and disarming a socket timer twice per request is a measurable part
 * of a small request's cost, while a sweep every network_timeout/2 over the
 * busy connections is free on the hot path. A stall is caught after between
 * 1 and 1.5 network_timeouts; idle pooled connections are legitimate for hours
 * and never swept.
 */
class StallSweeper {
  private readonly live = new Set<Live>()
  private timer?: NodeJS.Timeout

  constructor(private readonly timeoutMs: number) {}

  add(l: Live): void {
    this.live.add(l)
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), Math.max(500, Math.floor(this.timeoutMs / 2)))
      this.timer.unref()
    }
  }

  remove(l: Live): void {
    this.live.delete(l)
    if (this.live.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private sweep(): void {
    for (const l of this.live) {
      if (!l.busy) continue
      const p = l.reader.received + l.sock.bytesWritten
      // A zero-copy download or a natively received body moves no byte through the socket
      // object; each enforces the same network_timeout itself, so it is not a stall here.
      if (p !== l.mark || nativeIoInFlight(l.sock)) {
        l.mark = p
        l.still = 0
      } else if (++l.still >= 2) {
        log.warn({ peer: l.sock.remoteAddress }, 'request stalled longer than network_timeout, closing')
        l.sock.destroy()
      }
    }
  }
}

/** Listen and serve; returns the TcpServer (close() = graceful stop). */
export async function startStorageServer(o: StorageServerOptions): Promise<TcpServer> {
  const sweeper = new StallSweeper(o.networkTimeout * 1000)
  const srv: TcpServer = new TcpServer({
    host: o.host,
    port: o.port,
    name: 'fdfs_storaged',
    onConnection: (sock) => serveConnection(srv, sock, o, sweeper),
  })
  await srv.listen()
  return srv
}

/**
 * Most sync replies held back before a write. Why 16: the sender keeps up to 32
 * records in flight, so it gets acks at least twice per window and never
 * stalls waiting for a whole window's worth.
 */
const COALESCE_MAX = 16
/**
 * Requests of one connection answered synchronously in a row before the loop yields to the
 * others. Why 4: a small sync create takes ~40 µs, so a client's request waits at most ~0.2 ms
 * behind a peer's burst of pipelined records, at the cost of one setImmediate per 4 records.
 */
const YIELD_EVERY = 4

/** Commands with a synchronous path for small requests that arrived whole (see serveConnection). */
const FAST: Record<number, ((ctx: StorageContext, sock: Socket, body: Buffer) => boolean) | undefined> = {
  [C.DOWNLOAD_FILE]: downloadNow,
  [C.UPLOAD_FILE]: (ctx, sock, body) => uploadNow(ctx, sock, body, false),
  [C.UPLOAD_APPENDER_FILE]: (ctx, sock, body) => uploadNow(ctx, sock, body, true),
  [C.SYNC_CREATE_FILE]: syncCreateNow,
}
/** Largest request body a fast path is offered: a small file (64 KiB) and its fixed fields and name. */
const FAST_MAX = 64 * 1024 + 512
/**
 * Reply bytes a client may leave unread before its connection stops taking requests until it
 * reads (see serveConnection). Why 1 MiB: a client pipelining small requests without reading
 * would otherwise grow our write queue without bound, while a well-behaved client's replies to a
 * window of pipelined requests stay far below it.
 */
const UNREAD_MAX = 1024 * 1024

/** Resolves true on 'drain', false when the socket closes first. */
function writable(sock: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      sock.off('drain', onDrain)
      sock.off('close', onClose)
      resolve(ok)
    }
    const onDrain = done(true)
    const onClose = done(false)
    sock.on('drain', onDrain)
    sock.on('close', onClose)
  })
}

/**
 * Offer the request (header `hb`, whole `body`) to its command's fast path. True when it was
 * answered (the caller consumes it), false when declined with nothing done. Request errors
 * thrown after acting are answered here like a handler's errors.
 */
function answerNow(o: StorageServerOptions, sock: Socket, hb: Buffer, body: Buffer): boolean {
  const cmd = hb[8]
  const fast = FAST[cmd]
  if (fast === undefined || hb[9] !== 0 || body.length > FAST_MAX) return false
  let ok = true
  try {
    if (!fast(o.ctx, sock, body)) return false
  } catch (e) {
    ok = false
    const errno = errnoOf(e)
    log[errno === ERRNO.EIO ? 'error' : 'warn']({ peer: sock.remoteAddress, cmd, errno, err: (e as Error).message }, 'request failed')
    sock.write(statusReply(errno))
  }
  countRequest('fastdfs-storage', cmd, ok)
  return true
}

/**
 * Send the replies held in a corked socket, after writing the binlog records held for them
 * (Store.recordHeld): a peer never gets an acknowledgement for a record that is not in the
 * binlog. When that write fails the connection is closed with the replies unsent; the peer
 * reconnects and sends those records again (answered EEXIST, the files being here).
 */
function release(o: StorageServerOptions, sock: Socket): void {
  try {
    o.ctx.store.flushRecords()
  } catch (e) {
    log.error({ peer: sock.remoteAddress, err: (e as Error).message }, 'writing held binlog records failed, closing')
    sock.destroy()
    return
  }
  sock.uncork()
}

async function serveConnection(srv: TcpServer, sock: Socket, o: StorageServerOptions, sweeper: StallSweeper): Promise<void> {
  const stats = o.ctx.store.stats
  stats.connOpened()
  const reader = new SocketReader(sock)
  // Large file bodies (uploads, sync records) are received natively, straight into their temp
  // file on a pool thread, waiting at most network_timeout for each next byte.
  reader.nativeTimeoutMs = o.networkTimeout * 1000
  const live: Live = { sock, reader, busy: false, mark: -1, still: 0 }
  sweeper.add(live)
  // Reply coalescing for pipelined sync records (see COALESCE_MAX).
  let corked = false
  let held = 0
  // Requests answered synchronously since the loop last yielded (see YIELD_EVERY).
  let streak = 0
  try {
    for (;;) {
      if (srv.isClosing) return
      // A client that sends requests without reading the replies is not read further until it
      // catches up (the reader pauses the socket once its own queue is full): memory stays bounded.
      if (sock.writableLength > UNREAD_MAX && !(await writable(sock))) return
      // Synchronous when the next header is already buffered (pipelined or one-segment requests).
      let hb = reader.tryRead(HEADER_SIZE)
      if (!hb) {
        if (await reader.atEof()) return
        hb = reader.tryRead(HEADER_SIZE) ?? (await reader.read(HEADER_SIZE))
      }
      const cmd = hb[8]
      const length = readLen(hb, 0)
      const limit = STREAMING.has(cmd) ? MAX_FILE_BODY : o.buffSize
      if (length < 0 || length > limit) {
        log.warn({ peer: sock.remoteAddress, cmd, length: String(hb.readBigInt64BE(0)) }, 'bad package length, closing')
        return
      }
      if (cmd === COMMON_CMD.QUIT) return
      // A large file body stays in the kernel while its handler reads the fixed fields and
      // prepares the file, so the native receive gets (nearly) all of it (see SocketReader).
      if (length >= HOLD_MIN && STREAMING.has(cmd)) reader.holdReads()
      // A peer pipelines sync records; their tiny replies are held (cork) while more requests are
      // already buffered and go out in one write, which saves a syscall and a wakeup per record on
      // both storages. Anything else (a download may stream with backpressure) runs uncorked.
      const coalesce = SYNC_HANDLERS[cmd] !== undefined
      if (coalesce && !corked) {
        sock.cork()
        corked = true
        held = 0
      } else if (!coalesce && corked) {
        release(o, sock)
        corked = false
      }
      // A small request that is all here is answered synchronously (no Request, no promise)
      // when its fast path takes it; each declines what it does not handle, having done
      // nothing, and the full handler below runs.
      if (FAST[cmd] !== undefined) {
        const body = reader.peek(length)
        if (body !== undefined && answerNow(o, sock, hb, body)) {
          reader.tryRead(length)
          if (corked && (++held >= COALESCE_MAX || reader.buffered < HEADER_SIZE || sock.destroyed)) {
            release(o, sock)
            corked = false
          }
          // Let other connections in between the requests of one long pipelined burst (a peer's
          // batch of sync records): answered back to back it would hold every client's request
          // for the whole burst.
          if (++streak >= YIELD_EVERY && reader.buffered >= HEADER_SIZE) {
            streak = 0
            await new Promise<void>((r) => setImmediate(r))
          }
          continue
        }
      }
      const req = new Request(sock, reader, cmd, hb[9], length)
      srv.busy(sock, true)
      live.busy = true
      live.still = 0
      live.mark = -1
      try {
        await dispatch(o, req)
        if (req.left > 0) throw new StorageError(ERRNO.EINVAL, `${req.left} unexpected trailing body bytes`)
        countRequest('fastdfs-storage', cmd, true)
      } catch (e) {
        countRequest('fastdfs-storage', cmd, false)
        if (e instanceof PeerClosedError || (e as { cause?: unknown }).cause instanceof PeerClosedError || sock.destroyed) {
          log.info({ peer: sock.remoteAddress, cmd, err: (e as Error).message }, 'client went away mid-request')
          return
        }
        const errno = errnoOf(e)
        // EEXIST is the normal answer to a state-based sync replay of something already here.
        const level = errno === ERRNO.ENOENT || errno === ERRNO.EEXIST ? 'debug' : errno === ERRNO.EIO ? 'error' : 'warn'
        log[level]({ peer: sock.remoteAddress, cmd, errno, err: (e as Error).message }, 'request failed')
        // A failure after the reply header went out (mid-download) leaves the stream
        // out of step with what we promised: the only honest signal left is closing.
        if (req.replied) return
        req.fail(errno)
        if (e instanceof StorageError && e.close) return
        if (req.left > DRAIN_MAX) return
        if (req.left > 0) await reader.skip(req.left)
      } finally {
        live.busy = false
        srv.busy(sock, false)
        if (corked && (++held >= COALESCE_MAX || reader.buffered < HEADER_SIZE || sock.destroyed)) {
          release(o, sock)
          corked = false
        }
      }
    }
  } catch (e) {
    if (!(e instanceof PeerClosedError)) log.debug({ err: e }, 'connection ended')
  } finally {
    if (corked && !sock.destroyed) release(o, sock)
    sweeper.remove(live)
    stats.connClosed()
  }
}

async function dispatch(o: StorageServerOptions, req: Request): Promise<void> {
  const ctx = o.ctx
  switch (req.cmd) {
    case C.UPLOAD_FILE:
      return handleUpload(ctx, req, false)
    case C.UPLOAD_APPENDER_FILE:
      return handleUpload(ctx, req, true)
    case C.UPLOAD_SLAVE_FILE:
      return handleUploadSlave(ctx, req)
    case C.APPEND_FILE:
      return handleAppend(ctx, req)
    case C.MODIFY_FILE:
      return handleModify(ctx, req)
    case C.TRUNCATE_FILE:
      return handleTruncate(ctx, req)
    case C.REGENERATE_APPENDER_FILENAME:
      return handleRegenerate(ctx, req)
    case C.DOWNLOAD_FILE:
      return handleDownload(ctx, req)
    case C.DELETE_FILE:
      return handleDelete(ctx, req)
    case C.SET_METADATA:
      return handleSetMeta(ctx, req, o.buffSize)
    case C.GET_METADATA:
      return handleGetMeta(ctx, req)
    case C.QUERY_FILE_INFO:
      return handleQueryInfo(ctx, req)
    case COMMON_CMD.ACTIVE_TEST:
    case C.TANDEM_PIPELINE_PROBE:
      await req.read(req.left)
      return req.ok()
    default: {
      const sync = SYNC_HANDLERS[req.cmd]
      if (sync) return sync(ctx, req)
      throw new StorageError(ERRNO.EINVAL, `unknown command ${req.cmd}`)
    }
  }
}
