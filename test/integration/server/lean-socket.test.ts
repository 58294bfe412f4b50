/**
 * The shared-buffer read path (lean-socket.ts) and the synchronous frame loop
 * (frame-loop.ts), on real listeners: accepted sockets re-wrapped by TcpServer,
 * client sockets from leanConnect, SocketReader over both (byte order, 8 MiB
 * through backpressure, EOF), the TANDEM_NODE_READ=1 fallback, and frames split
 * across segments, pipelined, oversized or ending the connection.
 */
import net, { type Socket } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { TcpServer } from '../../../src/server/tcp-server.js'
import { SocketReader } from '../../../src/server/socket-reader.js'
import { leanConnect, leanWrite } from '../../../src/server/lean-socket.js'
import { serveFrames } from '../../../src/server/frame-loop.js'
import { nativeAddon } from '../../../src/engine/io/native-addon.js'

const servers: TcpServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close(100)
  delete process.env.TANDEM_NODE_READ
})

async function listen(onConnection: (sock: Socket) => Promise<void>): Promise<number> {
  const s = new TcpServer({ host: '127.0.0.1', port: 0, name: 'test', onConnection })
  servers.push(s)
  return (await s.listen()).port
}

/** Server: read a 4-byte length, then that many bytes, answer with their sha1; until EOF. */
async function hashServer(sock: Socket): Promise<void> {
  const r = new SocketReader(sock)
  while (!(await r.atEof())) {
    const n = (await r.read(4)).readUInt32BE(0)
    const h = createHash('sha1')
    for await (const c of r.body(n)) h.update(c)
    sock.write(h.digest())
  }
}

function connected(s: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}

async function roundTrips(port: number, lean: boolean): Promise<void> {
  const sock = await connected(lean ? leanConnect({ host: '127.0.0.1', port }) : net.connect({ host: '127.0.0.1', port }))
  const r = new SocketReader(sock)
  for (const size of [0, 1, 26, 65_535, 65_537, 8 * 1024 * 1024]) {
    const body = randomBytes(size)
    const len = Buffer.alloc(4)
    len.writeUInt32BE(size)
    // Split the length field across two writes: the server must reassemble it.
    sock.write(len.subarray(0, 1))
    sock.write(Buffer.concat([len.subarray(1), body]))
    const got = await r.read(20)
    expect(got.equals(createHash('sha1').update(body).digest())).toBe(true)
  }
  sock.end()
  expect(await r.atEof()).toBe(true)
}

describe('lean sockets', () => {
  it('a TcpServer connection reads through the shared buffer; lean and plain clients both work', async () => {
    const port = await listen(hashServer)
    await roundTrips(port, true)
    await roundTrips(port, false)
  })

  it('the peer address survives the re-wrap', async () => {
    let seen: string | undefined
    const port = await listen(async (sock) => {
      seen = sock.remoteAddress
      sock.end('x')
    })
    const s = await connected(net.connect({ host: '127.0.0.1', port }))
    s.resume()
    await new Promise((r) => s.on('close', r))
    expect(seen).toBe('127.0.0.1')
  })

  it('bytes that arrive before a reader attaches are kept', async () => {
    const port = await listen(async (sock) => {
      sock.write('hello')
      await new Promise((r) => sock.on('close', r))
    })
    const sock = await connected(leanConnect({ host: '127.0.0.1', port }))
    await new Promise((r) => setTimeout(r, 100))
    const r = new SocketReader(sock)
    expect((await r.read(5)).toString()).toBe('hello')
    sock.destroy()
  })

  it('bulk reads (own buffers, no copy) and small ones (shared buffer) on several sockets: every chunk kept keeps its bytes', async () => {
    // Each connection gets: 3 small messages, 3 MiB at once, 3 small messages, 2 MiB; the client keeps
    // every chunk it got until the end, so a buffer read into twice would show as wrong bytes.
    const payloads = new Map<string, Buffer>()
    const port = await listen(async (sock) => {
      const r = new SocketReader(sock)
      const id = (await r.read(8)).toString('latin1')
      const parts = [randomBytes(10), randomBytes(100), randomBytes(1000), randomBytes(3 << 20), randomBytes(7), randomBytes(70_000), randomBytes(5), randomBytes(2 << 20)]
      payloads.set(id, Buffer.concat(parts))
      for (const p of parts) {
        if (!sock.write(p)) await new Promise((res) => sock.once('drain', res))
        if (p.length < 1000) await new Promise((res) => setTimeout(res, 5))
      }
      sock.end()
    })
    const client = async (id: string): Promise<void> => {
      const sock = await connected(leanConnect({ host: '127.0.0.1', port }))
      const r = new SocketReader(sock)
      sock.write(id)
      const kept: Buffer[] = []
      while (!(await r.atEof())) for await (const c of r.body(Math.min(r.buffered, 1 << 20) || 1)) kept.push(c)
      const got = Buffer.concat(kept)
      expect(got.length).toBe(payloads.get(id)!.length)
      expect(got.equals(payloads.get(id)!)).toBe(true)
      sock.destroy()
    }
    await Promise.all(['client-a', 'client-b', 'client-c'].map(client))
  })

  it('TANDEM_NODE_READ=1 falls back to data events on both sides', async () => {
    process.env.TANDEM_NODE_READ = '1'
    const port = await listen(hashServer)
    await roundTrips(port, true)
  })
})

describe('serveFrames', () => {
  /** Frames: 4-byte length + body; the reply echoes the body reversed, "quit" closes. */
  function frameServer(maxBody = 1024): Promise<number> {
    return listen((sock) =>
      serveFrames(sock, {
        headerSize: 4,
        maxBody,
        bodyLength: (b, off) => b.readInt32BE(off),
        onBadLength: () => {},
        onFrame: (_h, body) => (body.toString() === 'quit' ? null : Buffer.from([...body].reverse())),
      }),
    )
  }
  const frame = (s: string) => {
    const b = Buffer.alloc(4 + Buffer.byteLength(s))
    b.writeInt32BE(Buffer.byteLength(s))
    b.write(s, 4)
    return b
  }

  it('answers frames split across segments and several frames in one segment, in order', async () => {
    const port = await frameServer()
    const sock = await connected(net.connect({ host: '127.0.0.1', port }))
    const r = new SocketReader(sock)
    const all = Buffer.concat([frame('abc'), frame(''), frame('hello'), frame('xy')])
    sock.write(all.subarray(0, 2))
    await new Promise((res) => setTimeout(res, 20))
    sock.write(all.subarray(2, 9))
    await new Promise((res) => setTimeout(res, 20))
    sock.write(all.subarray(9))
    expect((await r.read(3 + 0 + 5 + 2)).toString()).toBe('cbaollehyx')
    sock.destroy()
  })

  it('a bad length or a null reply ends the connection; other connections keep going', async () => {
    const port = await frameServer(16)
    const good = await connected(net.connect({ host: '127.0.0.1', port }))
    const gr = new SocketReader(good)
    for (const bad of [Buffer.from([0xff, 0xff, 0xff, 0xff]), frame('x'.repeat(17)), frame('quit')]) {
      const s = await connected(net.connect({ host: '127.0.0.1', port }))
      const r = new SocketReader(s)
      s.write(bad)
      expect(await r.atEof()).toBe(true)
      s.destroy()
      good.write(frame('ok'))
      expect((await gr.read(2)).toString()).toBe('ko')
    }
    good.destroy()
  })
})

describe('leanWrite', () => {
  /** A connected pair: [server side, client side]. */
  async function pair(): Promise<[Socket, Socket]> {
    let accepted!: (s: Socket) => void
    const got = new Promise<Socket>((r) => (accepted = r))
    const port = await listen(async (s) => {
      accepted(s)
      await new Promise((r) => s.once('close', r))
    })
    const c = await connected(net.connect({ host: '127.0.0.1', port }))
    return [await got, c]
  }

  /** Read exactly `n` bytes from a socket in flowing mode. */
  function readN(s: Socket, n: number): Promise<Buffer> {
    return new Promise((resolve) => {
      const parts: Buffer[] = []
      let have = 0
      const on = (c: Buffer) => {
        parts.push(c)
        have += c.length
        if (have >= n) {
          s.off('data', on)
          resolve(Buffer.concat(parts))
        }
      }
      s.on('data', on)
    })
  }

  it('sends straight to the kernel on an idle socket, through the stream when corked, and keeps the order', async () => {
    const [srv, cli] = await pair()
    const before = srv.bytesWritten
    expect(leanWrite(srv, Buffer.from('one,'))).toBe(true)
    // Around the stream when the addon's sendNow is there (always in CI), else through it.
    expect(srv.bytesWritten).toBe(typeof nativeAddon()?.sendNow === 'function' ? before : before + 4)
    srv.cork()
    leanWrite(srv, Buffer.from('two,'))
    expect(srv.writableLength).toBe(4) // held by the cork, not sent around it
    leanWrite(srv, Buffer.from('three,'))
    srv.uncork()
    leanWrite(srv, Buffer.from('four'))
    expect((await readN(cli, 18)).toString()).toBe('one,two,three,four')
    cli.destroy()
  })

  it('queues behind a full socket buffer without reordering (the client reads only at the end)', async () => {
    const [srv, cli] = await pair()
    cli.pause()
    const chunks: Buffer[] = []
    for (let i = 0; i < 400; i++) {
      const b = Buffer.alloc(16 * 1024, i & 0xff)
      b.writeUInt32BE(i, 0)
      chunks.push(b)
      leanWrite(srv, b)
    }
    expect(srv.writableLength).toBeGreaterThan(0) // the kernel buffer filled: the rest waits in the stream
    const all = readN(cli, 400 * 16 * 1024)
    cli.resume()
    expect((await all).equals(Buffer.concat(chunks))).toBe(true)
    cli.destroy()
  })

  it('leaves a closed socket to the stream (no throw)', async () => {
    const [srv, cli] = await pair()
    cli.destroy()
    await new Promise((r) => srv.once('close', r))
    expect(() => leanWrite(srv, Buffer.from('late'))).not.toThrow()
  })
})
