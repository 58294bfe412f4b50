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
import { decodeHeader } from '../protocol/header.js'
import { errnoOf, StorageError } from './errors.js'
import { handleAppend, handleModify, handleRegenerate, handleTruncate, handleUpload, handleUploadSlave, type StorageContext } from './handlers-upload.js'
import { handleDelete, handleDownload, handleGetMeta, handleQueryInfo, handleSetMeta } from './handlers-file.js'
import { SYNC_HANDLERS } from './handlers-sync.js'
import { Request } from './request.js'

const log = logger('fastdfs.storage')

/** Commands whose body carries file bytes (streamed, may exceed buff_size). */
const STREAMING = new Set<number>([C.UPLOAD_FILE, C.UPLOAD_APPENDER_FILE, C.UPLOAD_SLAVE_FILE, C.APPEND_FILE, C.MODIFY_FILE, C.SYNC_CREATE_FILE, C.SYNC_UPDATE_FILE, C.SYNC_APPEND_FILE, C.SYNC_MODIFY_FILE])
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

/** Listen and serve; returns the TcpServer (close() = graceful stop). */
export async function startStorageServer(o: StorageServerOptions): Promise<TcpServer> {
  const srv: TcpServer = new TcpServer({
    host: o.host,
    port: o.port,
    name: 'fdfs_storaged',
    onConnection: (sock) => serveConnection(srv, sock, o),
  })
  await srv.listen()
  return srv
}

async function serveConnection(srv: TcpServer, sock: Socket, o: StorageServerOptions): Promise<void> {
  const stats = o.ctx.store.stats
  stats.connOpened()
  const reader = new SocketReader(sock)
  // Why a timeout only inside a request: idle pooled client connections are
  // legitimate for hours, but a request whose bytes stopped arriving pins a
  // handler and (for uploads) a temp file; network_timeout bounds that.
  sock.on('timeout', () => {
    log.warn({ peer: sock.remoteAddress }, 'request stalled longer than network_timeout, closing')
    sock.destroy()
  })
  try {
    for (;;) {
      if (srv.isClosing || (await reader.atEof())) return
      const h = decodeHeader(await reader.read(HEADER_SIZE))
      const limit = STREAMING.has(h.cmd) ? MAX_FILE_BODY : o.buffSize
      if (h.length < 0n || h.length > BigInt(limit)) {
        log.warn({ peer: sock.remoteAddress, cmd: h.cmd, length: String(h.length) }, 'bad package length, closing')
        return
      }
      if (h.cmd === COMMON_CMD.QUIT) return
      const req = new Request(sock, reader, h.cmd, h.status, Number(h.length))
      srv.busy(sock, true)
      sock.setTimeout(o.networkTimeout * 1000)
      try {
        await dispatch(o, req)
        if (req.left > 0) throw new StorageError(ERRNO.EINVAL, `${req.left} unexpected trailing body bytes`)
      } catch (e) {
        if (e instanceof PeerClosedError || (e as { cause?: unknown }).cause instanceof PeerClosedError || sock.destroyed) {
          log.info({ peer: sock.remoteAddress, cmd: h.cmd }, 'client went away mid-request')
          return
        }
        const errno = errnoOf(e)
        // EEXIST is the normal answer to a state-based sync replay of something already here.
        const level = errno === ERRNO.ENOENT || errno === ERRNO.EEXIST ? 'debug' : errno === ERRNO.EIO ? 'error' : 'warn'
        log[level]({ peer: sock.remoteAddress, cmd: h.cmd, errno, err: (e as Error).message }, 'request failed')
        // A failure after the reply header went out (mid-download) leaves the stream
        // out of step with what we promised: the only honest signal left is closing.
        if (req.replied) return
        req.fail(errno)
        if (e instanceof StorageError && e.close) return
        if (req.left > DRAIN_MAX) return
        if (req.left > 0) await reader.skip(req.left)
      } finally {
        sock.setTimeout(0)
        srv.busy(sock, false)
      }
    }
  } catch (e) {
    if (!(e instanceof PeerClosedError)) log.debug({ err: e }, 'connection ended')
  } finally {
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
      await req.read(req.left)
      return req.ok()
    default: {
      const sync = SYNC_HANDLERS[req.cmd]
      if (sync) return sync(ctx, req)
      throw new StorageError(ERRNO.EINVAL, `unknown command ${req.cmd}`)
    }
  }
}
