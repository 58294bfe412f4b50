/**
 * A TCP listener that tracks its connections so it can shut down gracefully:
 * stop accepting, let in-flight requests finish (up to a deadline), then
 * destroy what is left. Protocol code supplies `onConnection` and never sees
 * the listener. Errors thrown by a connection handler are logged and close
 * only that connection: one bad client never takes the server down.
 */
import net, { type AddressInfo, type Socket } from 'node:net'
import { logger } from '../log.js'
import { adoptLean } from './lean-socket.js'

const log = logger('server.tcp')

export interface TcpServerOptions {
  host: string
  port: number
  name: string
  /** Serve one connection until it ends; the promise settling closes the socket. */
  onConnection: (sock: Socket) => Promise<void>
}

export class TcpServer {
  private readonly server: net.Server
  private readonly conns = new Set<Socket>()
  /** Connections currently inside a request (set by the protocol via `busy`). */
  private readonly busyConns = new Set<Socket>()

  constructor(private readonly o: TcpServerOptions) {
    // pauseOnConnect: nothing is read before adoptLean moves the handle to a socket that reads
    // into the shared buffer (lean-socket.ts); adoptLean resumes whichever socket it returns.
    this.server = net.createServer({ noDelay: true, pauseOnConnect: true }, (sock) => this.accept(adoptLean(sock)))
    this.server.on('error', (e) => log.error({ err: e, name: o.name }, 'listener error'))
  }

  private accept(sock: Socket): void {
    this.conns.add(sock)
    // Why keepalive: FastDFS and MogileFS clients hold connections for hours;
    // a peer that vanished without a FIN must not pin a socket forever.
    sock.setKeepAlive(true, 60_000)
    sock.on('error', () => {})
    this.o
      .onConnection(sock)
      .catch((e) => log.warn({ err: e, name: this.o.name, peer: sock.remoteAddress }, 'connection handler failed'))
      .finally(() => {
        this.conns.delete(sock)
        this.busyConns.delete(sock)
        if (!sock.destroyed) sock.end()
      })
  }

  /** Mark a connection as inside/outside a request, for graceful shutdown. */
  busy(sock: Socket, on: boolean): void {
    if (on) this.busyConns.add(sock)
    else {
      this.busyConns.delete(sock)
      if (this.closing) sock.end()
    }
  }

  private closing = false

  get isClosing(): boolean {
    return this.closing
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen({ host: this.o.host, port: this.o.port, exclusive: true }, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    return this.server.address() as AddressInfo
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo
  }

  /**
   * Stop accepting; idle connections close now, busy ones when their request
   * ends or after `graceMs` (why 10 s: long enough for a typical upload to
   * finish, short enough for a supervisor's stop timeout).
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true
    const closed = new Promise<void>((r) => this.server.close(() => r()))
    for (const s of this.conns) if (!this.busyConns.has(s)) s.end()
    const deadline = Date.now() + graceMs
    while (this.busyConns.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    for (const s of this.conns) s.destroy()
    await closed
  }
}
