/**
 * Native socket → file receives (native/recvfile.c, engine/io/recv-file.ts) as the FastDFS
 * storage uses them: a SocketReader on a lean socket with `nativeTimeoutMs` set hands a large
 * body to LocalBlobStore.put, which lets it receive itself into the temp file on a pool thread.
 * Real sockets on port 0, real files in a temp dir. Checked: the bytes and CRC32 land exact,
 * whatever part was buffered first; the native side never reads past the body (a pipelined next
 * request is still there for the reader); it really ran natively; a peer that closes or stalls
 * mid-body leaves no blob and no temp file, the connection is closed and the store keeps working;
 * small bodies and readers without the option take the JS path.
 */
import net from 'node:net'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { crc32 } from '../../../src/engine/crc32.js'
import { nativeIoInFlight } from '../../../src/engine/io/pool-slots.js'
import { recvFileAvailable } from '../../../src/engine/io/recv-file.js'
import { adoptLean } from '../../../src/server/lean-socket.js'
import { PeerClosedError, SocketReader } from '../../../src/server/socket-reader.js'
import { processMetrics } from '../../../src/engine/metrics.js'
import { tmpDir } from '../../helpers/proc.js'

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 7) & 0xff
  return b
}

/** Bodies the blob stores of this process received natively so far. */
const nativeCount = (): number => processMetrics.get('tandem_store_native_receives_total') ?? 0

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A listener whose accepted sockets are adopted like TcpServer's; resolves each accepted reader. */
async function listen(timeoutMs: number | undefined): Promise<{ port: number; next: () => Promise<{ sock: net.Socket; reader: SocketReader }>; close: () => void }> {
  const accepted: Array<{ sock: net.Socket; reader: SocketReader }> = []
  const waiters: Array<(v: { sock: net.Socket; reader: SocketReader }) => void> = []
  const srv = net.createServer({ pauseOnConnect: true }, (s) => {
    const sock = adoptLean(s)
    const reader = new SocketReader(sock)
    reader.nativeTimeoutMs = timeoutMs
    sock.on('error', () => {})
    const w = waiters.shift()
    if (w) w({ sock, reader })
    else accepted.push({ sock, reader })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as net.AddressInfo).port
  return {
    port,
    next: () => {
      const a = accepted.shift()
      return a ? Promise.resolve(a) : new Promise((r) => waiters.push(r))
    },
    close: () => srv.close(),
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c))
    c.on('error', reject)
  })
}

function storeFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
}

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

describe.skipIf(!recvFileAvailable(true))('native body receives', () => {
  it('land bodies byte-exact with their CRC32, leave a pipelined request for the reader, and run natively', async () => {
    const root = tmpDir('native-recv')
    const store = await LocalBlobStore.open({ root })
    const l = await listen(5_000)
    cleanups.push(l.close)
    const client = await connect(l.port)
    cleanups.push(() => client.destroy())
    const { sock, reader } = await l.next()
    // Sizes around the thresholds and the 512 KiB gather buffer; the first part of each body is
    // already buffered by the reader when the put starts (it goes first, as the native prefix).
    const sizes = [256 * 1024, 524_288 + 1, 1_048_576, 3_000_017]
    for (const [i, size] of sizes.entries()) {
      const body = pattern(size, i)
      const head = 10_000 + i
      client.write(body.subarray(0, head))
      while (reader.buffered < head) await sleep(2)
      const put = store.put(`data/n${i}`, reader.body(size), { size })
      // Nothing more is sent until the receive went native (the put checks free space first).
      for (let t = 0; t < 500 && !nativeIoInFlight(sock); t++) await sleep(2)
      const sawNative = nativeIoInFlight(sock)
      // The rest arrives in pieces with pauses, then a pipelined next "request" right behind it.
      let off = head
      while (off < size) {
        const n = Math.min(200_000, size - off)
        client.write(body.subarray(off, off + n))
        off += n
        await sleep(3)
      }
      client.write('NEXT')
      const r = await put
      expect(r.size).toBe(size)
      expect(r.crc32).toBe(crc32(body))
      expect(readFileSync(path.join(root, 'data', `n${i}`)).equals(body), `size ${size}`).toBe(true)
      expect(sawNative, `size ${size} went native`).toBe(true)
      expect((await reader.read(4)).toString()).toBe('NEXT')
      expect(nativeIoInFlight(sock)).toBe(false)
    }
    expect(reader.received).toBe(sizes.reduce((a, b) => a + b + 4, 0))
  })

  it('a peer that closes mid-body leaves no blob and no temp file, and the reader reports it', async () => {
    const root = tmpDir('native-recv-close')
    const store = await LocalBlobStore.open({ root })
    const l = await listen(5_000)
    cleanups.push(l.close)
    const client = await connect(l.port)
    const { sock, reader } = await l.next()
    const size = 2_000_000
    const body = pattern(size, 3)
    const put = store.put('data/closed', reader.body(size), { size })
    client.write(body.subarray(0, 700_000))
    while (!nativeIoInFlight(sock)) await sleep(2)
    await sleep(20)
    client.destroy()
    await expect(put.catch((e) => e.cause)).resolves.toBeInstanceOf(PeerClosedError)
    expect(sock.destroyed).toBe(true)
    expect(nativeIoInFlight(sock)).toBe(false)
    expect(storeFiles(root)).toEqual([])
    // The store takes the next body as usual.
    const good = pattern(300_000, 4)
    await store.put('data/good', (async function* () { yield good })(), { size: good.length })
    expect(readFileSync(path.join(root, 'data', 'good')).equals(good)).toBe(true)
  })

  it('a peer that stalls mid-body is cut off after the timeout, leaving nothing behind', async () => {
    const root = tmpDir('native-recv-stall')
    const store = await LocalBlobStore.open({ root })
    const l = await listen(300)
    cleanups.push(l.close)
    const client = await connect(l.port)
    cleanups.push(() => client.destroy())
    const { sock, reader } = await l.next()
    const size = 1_048_576
    const put = store.put('data/stalled', reader.body(size), { size })
    client.write(pattern(400_000, 5))
    const t0 = Date.now()
    await expect(put.catch((e) => e.cause)).resolves.toMatchObject({ code: 'ETIMEDOUT' })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
    expect(sock.destroyed).toBe(true)
    expect(storeFiles(root)).toEqual([])
  })

  it('a socket closed by the server while a body is arriving cancels the receive at once', async () => {
    const root = tmpDir('native-recv-cancel')
    const store = await LocalBlobStore.open({ root })
    const l = await listen(60_000)
    cleanups.push(l.close)
    const client = await connect(l.port)
    cleanups.push(() => client.destroy())
    const { sock, reader } = await l.next()
    const size = 1_048_576
    const put = store.put('data/cancelled', reader.body(size), { size })
    client.write(pattern(100_000, 6))
    while (!nativeIoInFlight(sock)) await sleep(2)
    const t0 = Date.now()
    sock.destroy() // a shutdown or a stall sweep
    await expect(put.catch((e) => e.cause)).resolves.toBeInstanceOf(PeerClosedError)
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(storeFiles(root)).toEqual([])
  })

  it('holdReads keeps a large body in the kernel for the native receive, and a read resumes', async () => {
    const root = tmpDir('native-recv-hold')
    const store = await LocalBlobStore.open({ root })
    const l = await listen(5_000)
    cleanups.push(l.close)
    const client = await connect(l.port)
    cleanups.push(() => client.destroy())
    const { reader } = await l.next()
    const size = 1_500_000
    const body = pattern(size, 21)
    // A "header" first; once it is read the server holds reads, then the whole body arrives at once.
    client.write('HEAD')
    expect((await reader.read(4)).toString()).toBe('HEAD')
    reader.holdReads()
    client.write(body)
    await sleep(50)
    expect(reader.buffered).toBe(0) // nothing read while held
    const before = nativeCount()
    const r = await store.put('data/held', reader.body(size), { size })
    expect(nativeCount()).toBe(before + 1)
    expect(r.crc32).toBe(crc32(body))
    expect(readFileSync(path.join(root, 'data', 'held')).equals(body)).toBe(true)
    // Held again, then a plain read: it resumes the socket and gets its bytes.
    reader.holdReads()
    client.write('TAIL')
    expect((await reader.read(4)).toString()).toBe('TAIL')
  })

  it('small bodies, bodies already received, and readers without the option take the JS path', async () => {
    const root = tmpDir('native-recv-js')
    const store = await LocalBlobStore.open({ root })
    for (const timeout of [5_000, undefined]) {
      const l = await listen(timeout)
      cleanups.push(l.close)
      const client = await connect(l.port)
      cleanups.push(() => client.destroy())
      const { sock, reader } = await l.next()
      const cases = [
        { size: 200_000, buffered: false }, // under the size threshold
        { size: 600_000, buffered: true }, // all here before the put starts
        { size: 1_048_576, buffered: false }, // native only when the option is set
      ]
      for (const [i, c] of cases.entries()) {
        const body = pattern(c.size, 10 + i)
        if (c.buffered) {
          client.write(body)
          while (reader.buffered < c.size) await sleep(2)
        }
        const put = store.put(`data/j${timeout}-${i}`, reader.body(c.size), { size: c.size })
        let sawNative = false
        if (!c.buffered) {
          for (let off = 0; off < c.size; off += 100_000) {
            client.write(body.subarray(off, Math.min(c.size, off + 100_000)))
            await sleep(2)
            sawNative ||= nativeIoInFlight(sock)
          }
        }
        const r = await put
        expect(r.crc32).toBe(crc32(body))
        expect(readFileSync(path.join(root, 'data', `j${timeout}-${i}`)).equals(body)).toBe(true)
        expect(sawNative, `case ${i}, timeout ${timeout}`).toBe(timeout !== undefined && i === 2)
      }
    }
  })
})
