/**
 * A request loop for length-prefixed binary protocols whose handlers answer
 * synchronously (the FastDFS tracker: every command is a lookup in memory).
 *
 * Why not SocketReader's `await read()` loop: per request that costs a promise,
 * a microtask and an async-function resumption, plus queue bookkeeping, which
 * on a 26-byte query is a large share of the tracker's CPU. Here every chunk is
 * parsed where it lands: each complete frame is handled and answered in the
 * same call, a partial frame waits in one buffer for the next chunk.
 *
 * Who calls it: the FastDFS tracker's connection handler. It resolves when the
 * connection is over: the peer closed, a socket error, a bad length
 * (`onBadLength`) or a handler asking to close (`null` reply). It never
 * rejects; the caller's TcpServer ends the socket afterwards.
 */
import type { Socket } from 'node:net'
import { onLeanData, leanWrite } from './lean-socket.js'

export interface FrameLoopOptions {
  headerSize: number
  /** Largest body accepted; a bigger or negative length closes the connection. */
  maxBody: number
  /** Body length announced by the header at `buf[off]` (negative when invalid). */
  bodyLength(buf: Buffer, off: number): number
  /** Handle one frame; the reply to write, or null to close. Runs synchronously. */
  onFrame(header: Buffer, body: Buffer): Buffer | null
  /** Called before closing on a bad length (to log it). */
  onBadLength(header: Buffer): void
}

export function serveFrames(sock: Socket, o: FrameLoopOptions): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer | undefined
    let over = false
    const finish = (): void => {
      if (over) return
      over = true
      pending = undefined
      resolve()
    }
    const onChunk = (chunk: Buffer): void => {
      if (over) return
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk
      let off = 0
      while (buf.length - off >= o.headerSize) {
        const len = o.bodyLength(buf, off)
        if (len < 0 || len > o.maxBody) {
          o.onBadLength(buf.subarray(off, off + o.headerSize))
          return finish()
        }
        const end = off + o.headerSize + len
        if (end > buf.length) break
        const reply = o.onFrame(buf.subarray(off, off + o.headerSize), buf.subarray(off + o.headerSize, end))
        off = end
        if (reply === null) return finish()
        if (!sock.destroyed) leanWrite(sock, reply)
      }
      if (off === buf.length) pending = undefined
      else {
        // Keep only the unparsed tail (a copy when small, so one big chunk is not pinned by a few bytes).
        buf = buf.subarray(off)
        pending = buf.length < 4096 && off > 0 ? Buffer.from(buf) : buf
      }
    }
    if (!onLeanData(sock, onChunk)) sock.on('data', onChunk)
    sock.on('end', finish)
    sock.on('close', finish)
    sock.on('error', finish)
  })
}
