/**
 * The FdfsClient library (used by our tools and the compare harness) against
 * our fdfs_trackerd + fdfs_storaged child processes: streamed uploads of a
 * known size, short streams, ranged downloads into a stream, metadata,
 * appender operations and connection reuse.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientConfFor } from '../../../src/personalities/fastdfs/client/client-conf.js'
import { FdfsError } from '../../../src/personalities/fastdfs/client/errors.js'
import { FdfsClient } from '../../../src/personalities/fastdfs/client/fdfs-client.js'
import { metaFromObject, metaToObject } from '../../../src/personalities/fastdfs/metadata.js'
import { decodeStorageStats } from '../../../src/personalities/fastdfs/tracker/monitor-codec.js'
import { startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'
import { groupBuf, RawFdfs } from '../../helpers/fdfs-tracker-raw.js'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

let tracker: Daemon
let storage: TestStorage
let client: FdfsClient

/** `n` pseudo-random bytes produced in 64 KiB chunks (never one big buffer). */
async function* generate(n: number, seed = 1): AsyncGenerator<Buffer> {
  let x = seed
  for (let left = n; left > 0; ) {
    const k = Math.min(left, 65536)
    const b = Buffer.allocUnsafe(k)
    for (let i = 0; i < k; i++) {
      x = (x * 1103515245 + 12345) >>> 0
      b[i] = x >>> 24
    }
    left -= k
    yield b
  }
}

async function md5Of(src: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('md5')
  for await (const b of src) h.update(b)
  return h.digest('hex')
}

/** A Writable that hashes what it receives. */
function hashSink(): { sink: Writable; digest: () => string; bytes: () => number } {
  const h = createHash('md5')
  let n = 0
  const sink = new Writable({
    write(chunk, _enc, cb) {
      h.update(chunk)
      n += chunk.length
      cb()
    },
  })
  return { sink, digest: () => h.digest('hex'), bytes: () => n }
}

beforeAll(async () => {
  const dir = tmpDir('fdfs-lib')
  mkdirSync(path.join(dir, 'tbase'))
  const port = await freePort()
  writeFileSync(path.join(dir, 'tracker.conf'), `base_path = ${dir}/tbase\nbind_addr = 127.0.0.1\nport = ${port}\nreserved_storage_space = 1%\n`)
  tracker = spawnDaemon('tracker', 'fdfs_trackerd', [path.join(dir, 'tracker.conf'), '--foreground'], dir)
  await waitForPort('127.0.0.1', port)
  storage = await startTestStorage('fdfs-lib-storage', '', port)
  const c = await RawFdfs.connect(port)
  for (let i = 0; i < 400; i++) {
    const r = await c.call(92, groupBuf('group1'))
    if (r?.status === 0 && decodeStorageStats(r.body).some((s) => s.status === 7)) break
    await new Promise((res) => setTimeout(res, 50))
  }
  c.close()
  client = new FdfsClient(clientConfFor([{ host: '127.0.0.1', port }]))
}, 60_000)

afterAll(async () => {
  client?.close()
  await storage?.daemon.stop()
  await tracker?.stop()
})

describe('FdfsClient', () => {
  it('uploads a 3 MiB stream of known size and downloads it whole and by range into streams', async () => {
    const size = 3 * 1024 * 1024 + 17
    const id = await client.upload({ size, stream: generate(size) }, 'dat')
    expect(id).toMatch(/^group1\/M00\/.*\.dat$/)
    const whole = hashSink()
    expect(await client.download(id, whole.sink)).toBe(size)
    expect(whole.digest()).toBe(await md5Of(generate(size)))
    const part = hashSink()
    expect(await client.download(id, part.sink, 1000, 5000)).toBe(5000)
    const all = Buffer.concat(await (async () => {
      const l: Buffer[] = []
      for await (const b of generate(size)) l.push(b)
      return l
    })())
    expect(part.digest()).toBe(createHash('md5').update(all.subarray(1000, 6000)).digest('hex'))
  })

  it('a stream shorter than announced fails with an FdfsError and the next upload still works', async () => {
    await expect(client.upload({ size: 100_000, stream: generate(50_000) }, 'bin')).rejects.toBeInstanceOf(FdfsError)
    const id = await client.upload(Buffer.from('after the failure'), 'txt')
    const s = hashSink()
    await client.download(id, s.sink)
    expect(s.bytes()).toBe(17)
  })

  it('metadata: upload with meta (O), merge (M), get', async () => {
    const id = await client.upload(Buffer.from('m'), 'txt', { meta: metaFromObject({ a: '1', b: '2' }) })
    await client.setMetadata(id, metaFromObject({ b: '3', c: '4' }), 'M')
    const { meta } = await client.getMetadata(id)
    expect(metaToObject(meta)).toEqual({ a: '1', b: '3', c: '4' })
    await client.setMetadata(id, metaFromObject({ z: '9' }), 'O')
    expect(metaToObject((await client.getMetadata(id)).meta)).toEqual({ z: '9' })
  })

  it('appender: append, modify, truncate, file info, regenerate name', async () => {
    const id = await client.upload(Buffer.from('hello '), 'log', { appender: true })
    await client.append(id, Buffer.from('world'))
    await client.modify(id, 0, Buffer.from('J'))
    const info = await client.queryFileInfo(id)
    expect(info.size).toBe(11)
    await client.truncate(id, 5)
    const newId = await client.regenerateAppenderName(id)
    expect(newId).not.toBe(id)
    const s = hashSink()
    await client.download(newId, s.sink)
    expect(s.digest()).toBe(createHash('md5').update('Jello').digest('hex'))
    await client.delete(newId)
    await expect(client.delete(newId)).rejects.toMatchObject({ errno: 2 })
  })

  it('keeps connections: a released connection is handed out again', async () => {
    const s = await client.tracker.queryStore()
    const c1 = await client.pool.get(s)
    client.pool.release(c1)
    const c2 = await client.pool.get(s)
    expect(c2).toBe(c1)
    client.pool.release(c2)
  })
})
