/**
 * The zero-copy send path (engine/io/sendfile.ts + native/sendfile.c) over real
 * loopback TCP connections and real temp files. The native part needs the addon
 * built (`node scripts/build-native.mjs`, run by npm install); it must be built
 * in CI, where its absence fails the suite. The fallback part always runs.
 */
import { closeSync, ftruncateSync, openSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { canSendFile, sendFileToSocket, sendHeadAndFile, sendfileAvailable, sendfileInFlight, socketFd } from '../../../src/engine/io/sendfile.js'
import { tmpDir } from '../../helpers/proc.js'

const dir = tmpDir('sendfile')
const SIZE = 5 * 1024 * 1024
const content = Buffer.allocUnsafe(SIZE)
for (let i = 0; i < SIZE; i += 4) content.writeUInt32LE((i * 2654435761) >>> 0, i)
const file = path.join(dir, 'five.bin')
writeFileSync(file, content)
/** Larger than loopback socket buffers on both ends, so a client that does not read stalls the send. */
const BIG = 64 * 1024 * 1024
const bigFile = path.join(dir, 'big.bin')
{
  const fd = openSync(bigFile, 'w')
  ftruncateSync(fd, BIG) // sparse: zeros from the page cache, nothing written to disk
  closeSync(fd)
}

const servers: net.Server[] = []
const fds: number[] = []

afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd)
})
afterAll(() => {
  for (const s of servers) s.close()
})

/** A connected pair: `server` is the accepted socket (the side that sends), `client` the peer. */
async function pair(): Promise<{ server: net.Socket; client: net.Socket }> {
  const srv = net.createServer()
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r))
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise<void>((r, j) => client.once('connect', r).once('error', j))
  const server = await accepted
  server.on('error', () => {})
  client.on('error', () => {})
  return { server, client }
}

/** Everything the client receives until the server ends the connection. */
function collect(client: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = []
  client.on('data', (d: Buffer) => parts.push(d))
  return new Promise((r) => client.once('close', () => r(Buffer.concat(parts))))
}

function open(p: string): number {
  const fd = openSync(p, 'r')
  fds.push(fd)
  return fd
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b
}

function writeFlushed(sock: net.Socket, b: Buffer | string): Promise<void> {
  return new Promise((r, j) => sock.write(b, (e) => (e ? j(e) : r())))
}

describe('zero-copy sendfile: availability', () => {
  it('is built here when CI is set (the native path must not silently vanish)', () => {
    if (process.env.CI) expect(sendfileAvailable(), 'addon missing: run `node scripts/build-native.mjs` (see build/native-build.log)').toBe(true)
    else if (!sendfileAvailable()) console.warn('sendfile addon not built: native assertions skipped (node scripts/build-native.mjs builds it)')
  })
})

describe.skipIf(!sendfileAvailable())('zero-copy sendfile: native', () => {
  it('sends a 5 MiB file through a real TCP connection, byte for byte', async () => {
    const { server, client } = await pair()
    const got = collect(client)
    expect(canSendFile(server)).toBe(true)
    const p = sendFileToSocket(server, open(file), 0, SIZE, 10_000)
    expect(sendfileInFlight(server)).toBe(true)
    expect(await p).toBe(SIZE)
    expect(sendfileInFlight(server)).toBe(false)
    server.end()
    const b = await got
    expect(b.length).toBe(SIZE)
    expect(b.equals(content)).toBe(true)
  })

  it('sends a sub-range in order between ordinary writes, and the socket stays usable', async () => {
    const { server, client } = await pair()
    const got = collect(client)
    const start = 123_457
    const len = 2 * 1024 * 1024 + 3
    await writeFlushed(server, 'HEAD')
    expect(await sendFileToSocket(server, open(file), start, len, 10_000)).toBe(len)
    server.end('TAIL')
    const b = await got
    expect(b.subarray(0, 4).toString()).toBe('HEAD')
    expect(b.subarray(4, 4 + len).equals(content.subarray(start, start + len))).toBe(true)
    expect(b.subarray(4 + len).toString()).toBe('TAIL')
  })

  it('sends a header and a file range from one job (nothing queued), or after the queue drains', async () => {
    const { server, client } = await pair()
    const got = collect(client)
    const head = Buffer.from('0123456789')
    const len = 1_500_001
    // Nothing queued: header and file from the native job.
    expect(await sendHeadAndFile(server, head, open(file), 77, len, 10_000)).toBe(len)
    // Bytes still queued in the stream: the header waits for them, then the file follows. The
    // client stops reading until then, and we write until the kernel's buffers are full (how much
    // they take depends on the machine's loopback autotuning), so some bytes stay queued here.
    client.pause()
    let filler = 0
    while (server.writableLength === 0 && filler < 256 * 1024 * 1024) {
      server.write(Buffer.alloc(1024 * 1024, 0x41))
      filler += 1024 * 1024
      await new Promise((r) => setImmediate(r))
    }
    expect(server.writableLength).toBeGreaterThan(0)
    const sent = sendHeadAndFile(server, Buffer.from('HH'), open(file), 0, 1000, 10_000)
    client.resume()
    expect(await sent).toBe(1000)
    // An empty range still sends its header.
    expect(await sendHeadAndFile(server, Buffer.from('ZZ'), open(file), 0, 0, 10_000)).toBe(0)
    server.end()
    const b = await got
    let o = 0
    expect(b.subarray(o, (o += 10)).equals(head)).toBe(true)
    expect(b.subarray(o, (o += len)).equals(content.subarray(77, 77 + len))).toBe(true)
    expect(b.subarray(o, (o += filler)).every((x) => x === 0x41)).toBe(true)
    expect(b.subarray(o, (o += 2)).toString()).toBe('HH')
    expect(b.subarray(o, (o += 1000)).equals(content.subarray(0, 1000))).toBe(true)
    expect(b.subarray(o).toString()).toBe('ZZ')
  })

  it('resolves short when the file ends before the requested length', async () => {
    const { server, client } = await pair()
    const got = collect(client)
    expect(await sendFileToSocket(server, open(file), SIZE - 1000, 5000, 10_000)).toBe(1000)
    server.end()
    expect((await got).equals(content.subarray(SIZE - 1000))).toBe(true)
  })

  it('rejects with a coded error when the peer closes mid-send, and nothing crashes', async () => {
    const { server, client } = await pair()
    let seen = 0
    client.on('data', (d: Buffer) => {
      seen += d.length
      if (seen > 256 * 1024) client.destroy()
    })
    const err = (await sendFileToSocket(server, open(bigFile), 0, BIG, 10_000).catch((e: unknown) => e)) as NodeJS.ErrnoException & { bytesSent: number }
    expect(err).toBeInstanceOf(Error)
    expect(['EPIPE', 'ECONNRESET', 'ECANCELED']).toContain(err.code)
    expect(err.bytesSent).toBeGreaterThan(0)
    expect(err.bytesSent).toBeLessThan(BIG)
    server.destroy()
    // The process and the loader are fine: another send works.
    const again = await pair()
    const got = collect(again.client)
    expect(await sendFileToSocket(again.server, open(file), 0, 1000, 10_000)).toBe(1000)
    again.server.end()
    expect((await got).equals(content.subarray(0, 1000))).toBe(true)
  })

  it('fails with ETIMEDOUT when the peer stops reading for longer than the timeout', async () => {
    const { server, client } = await pair()
    client.pause()
    const t0 = Date.now()
    await expect(sendFileToSocket(server, open(bigFile), 0, BIG, 300)).rejects.toMatchObject({ code: 'ETIMEDOUT', syscall: 'poll' })
    expect(Date.now() - t0).toBeLessThan(5_000)
    server.destroy()
    client.destroy()
  })

  it('is cancelled at once when the socket is destroyed during the send (no write to a reused descriptor)', async () => {
    const { server, client } = await pair()
    client.pause()
    const p = sendFileToSocket(server, open(bigFile), 0, BIG, 30_000).catch((e: unknown) => e)
    await new Promise((r) => setTimeout(r, 100))
    const t0 = Date.now()
    server.destroy()
    const err = (await p) as NodeJS.ErrnoException
    expect(err.code).toBe('ECANCELED')
    expect(Date.now() - t0).toBeLessThan(5_000)
    client.destroy()
  })

  it('refuses to overtake unflushed writes (EBUSY) and a socket without a descriptor (EBADF)', async () => {
    const { server, client } = await pair()
    server.cork()
    server.write('x')
    await expect(sendFileToSocket(server, open(file), 0, 10, 1000)).rejects.toMatchObject({ code: 'EBUSY' })
    server.uncork()
    server.destroy()
    expect(socketFd(server)).toBeUndefined()
    expect(canSendFile(server)).toBe(false)
    await expect(sendFileToSocket(server, open(file), 0, 10, 1000)).rejects.toMatchObject({ code: 'EBADF' })
    client.destroy()
  })

  it('serves a LocalBlobStore ReadHandle fd, then the stream closes it', async () => {
    const store = await LocalBlobStore.open({ root: tmpDir('sendfile-store') })
    await store.put('a/b', once(content), { size: SIZE })
    const h = (await store.openRead('a/b', { start: 1000, end: 1000 + 300_000 }))!
    expect(h.buffer).toBeUndefined()
    expect(typeof h.fd).toBe('number')
    const { server, client } = await pair()
    const got = collect(client)
    expect(await sendFileToSocket(server, h.fd!, h.start, h.end - h.start, 10_000)).toBe(300_000)
    server.end()
    expect((await got).equals(content.subarray(1000, 301_000))).toBe(true)
    const closed = new Promise((r) => h.stream.once('close', r))
    h.stream.destroy()
    await closed
  })
})

describe('zero-copy sendfile: fallback', () => {
  it('socketFd finds the descriptor of an open TCP socket', async () => {
    const { server, client } = await pair()
    expect(socketFd(server)).toBeGreaterThanOrEqual(0)
    server.destroy()
    client.destroy()
  })

  it('TANDEM_NO_SENDFILE=1 makes it absent: ENOTSUP without touching the socket, and the streamed path delivers the bytes', async () => {
    vi.resetModules()
    vi.stubEnv('TANDEM_NO_SENDFILE', '1')
    try {
      const m = await import('../../../src/engine/io/sendfile.js')
      expect(m.sendfileAvailable()).toBe(false)
      const { server, client } = await pair()
      const got = collect(client)
      expect(m.canSendFile(server)).toBe(false)
      await expect(m.sendFileToSocket(server, open(file), 0, SIZE, 1000)).rejects.toMatchObject({ code: 'ENOTSUP' })
      // What a download handler does when absent: stream the ReadHandle over the same socket.
      const store = await LocalBlobStore.open({ root: tmpDir('sendfile-fallback') })
      await store.put('f', once(content), { size: SIZE })
      const h = (await store.openRead('f', { start: 77, end: SIZE - 77 }))!
      for await (const c of h.stream as AsyncIterable<Buffer>) if (!server.write(c)) await new Promise((r) => server.once('drain', r))
      server.end()
      expect((await got).equals(content.subarray(77, SIZE - 77))).toBe(true)
    } finally {
      vi.unstubAllEnvs()
      vi.resetModules()
    }
  })
})
