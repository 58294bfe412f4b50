/**
 * A connection to a peer storage of the group that has announced who we are
 * (REPORT_SERVER_ID, 9), so the peer treats it as a storage, not a client (it
 * never proxies our requests on, and credits applied sync records to us).
 * Called by the sync sender's lanes (sync-lane.ts) and the read proxy
 * (storage/peer-proxy.ts). Rejects when the peer has not both accepted the
 * connection and answered the announcement within `timeoutMs`, fails, or
 * refuses it; the socket is then destroyed.
 */
import type net from 'node:net'
import { SocketReader } from '../../../server/socket-reader.js'
import { leanConnect } from '../../../server/lean-socket.js'
import { readLong } from '../protocol/header.js'
import { reportServerId } from './sync-codec.js'

export interface PeerConnectOptions {
  host: string
  port: number
  /** Local address to connect from (bind_addr, so the peer sees our identity); absent = any. */
  localAddress?: string
  /** Our storage id or ip, as the peer knows us. */
  myId: string
  timeoutMs: number
}

export async function connectPeer(o: PeerConnectOptions): Promise<{ sock: net.Socket; reader: SocketReader }> {
  const sock = leanConnect({ host: o.host, port: o.port, noDelay: true, localAddress: o.localAddress })
  let timedOut = false
  // One deadline for the whole handshake: a peer that accepts but never answers is as down as one that never accepts.
  const t = setTimeout(() => {
    timedOut = true
    sock.destroy()
  }, o.timeoutMs)
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve())
      sock.once('error', reject)
      sock.once('close', () => reject(new Error('connection closed')))
    })
    sock.on('error', () => {})
    const reader = new SocketReader(sock)
    sock.write(reportServerId(o.myId))
    const h = await reader.read(10)
    const len = readLong(h, 0)
    if (len < 0 || len > 1 << 20) throw new Error(`bad reply length ${len}`)
    if (len > 0) await reader.skip(len)
    if (h[9] !== 0) throw new Error(`peer refused REPORT_SERVER_ID with status ${h[9]}`)
    return { sock, reader }
  } catch (e) {
    sock.destroy()
    throw timedOut ? new Error(`peer ${o.host}:${o.port} did not answer within ${o.timeoutMs} ms`) : e
  } finally {
    clearTimeout(t)
  }
}
