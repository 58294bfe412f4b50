import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { buildFdfsHttpApp, type FdfsHttpSource } from '../../../src/personalities/fastdfs/http/app.js'
import { checkToken, genToken } from '../../../src/personalities/fastdfs/http/token.js'
import { encodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { crc32 } from '../../../src/engine/crc32.js'
import { tmpDir } from '../../helpers/proc.js'

async function* one(b: Buffer): AsyncGenerator<Buffer> {
  yield b
}

async function source(holders: () => string[] = () => []): Promise<{ src: FdfsHttpSource; store: LocalBlobStore }> {
  const store = await LocalBlobStore.open({ root: tmpDir('fdfshttp') })
  const key = (remote: string) => `data/${remote.slice(4)}`
  const src: FdfsHttpSource = {
    group: 'group1',
    open: (r, range) => store.openRead(key(r), range),
    stat: (r) => store.stat(key(r)),
    holders: async () => holders(),
  }
  return { src, store }
}

function nameFor(body: Buffer, ext = 'jpg'): string {
  return encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 1, source: '127.0.0.1', timestamp: 1795314657, size: body.length, crc32: crc32(body), ext })
}

describe('FastDFS HTTP app', () => {
  const apps: Array<{ close(): Promise<void> }> = []
  afterAll(async () => {
    for (const a of apps) await a.close()
  })

  it('serves GET/HEAD with Content-Type, ETag, Last-Modified, Range and 304', async () => {
    const { src, store } = await source()
    const body = Buffer.from('0123456789abcdef')
    const remote = nameFor(body)
    await store.put(`data/${remote.slice(4)}`, one(body))
    const app = buildFdfsHttpApp({ source: src })
    apps.push(app)
    const get = await app.inject({ method: 'GET', url: `/group1/${remote}` })
    expect(get.statusCode).toBe(200)
    expect(get.body).toBe(body.toString())
    expect(get.headers['content-type']).toBe('image/jpeg')
    expect(get.headers['accept-ranges']).toBe('bytes')
    const etag = get.headers.etag as string
    expect(etag).toMatch(/^"10-/)
    const head = await app.inject({ method: 'HEAD', url: `/group1/${remote}` })
    expect(head.statusCode).toBe(200)
    expect(head.headers['content-length']).toBe('16')
    expect(head.body).toBe('')
    const r = await app.inject({ method: 'GET', url: `/group1/${remote}`, headers: { range: 'bytes=2-5' } })
    expect(r.statusCode).toBe(206)
    expect(r.body).toBe('2345')
    expect(r.headers['content-range']).toBe('bytes 2-5/16')
    expect((await app.inject({ method: 'GET', url: `/group1/${remote}`, headers: { range: 'bytes=-3' } })).body).toBe('def')
    expect((await app.inject({ method: 'GET', url: `/group1/${remote}`, headers: { range: 'bytes=99-' } })).statusCode).toBe(416)
    expect((await app.inject({ method: 'GET', url: `/group1/${remote}`, headers: { 'if-none-match': etag } })).statusCode).toBe(304)
  })

  it('rejects path tricks with 400 and unknown groups/files with 404', async () => {
    const { src } = await source()
    const app = buildFdfsHttpApp({ source: src })
    apps.push(app)
    for (const url of ['/group1/M00/00/../../etc/passwd', '/group1/M00/00/01/%2e%2e%2fsecret', '/group1/M00//00/x', '/group1/M00/00/01/notbase64', '/group1/M00/00/01/a%00b']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(400)
    }
    const body = Buffer.from('x')
    expect((await app.inject({ method: 'GET', url: `/group2/${nameFor(body)}` })).statusCode).toBe(404)
    expect((await app.inject({ method: 'GET', url: `/group1/${nameFor(body)}` })).statusCode).toBe(404)
  })

  it('checks anti-steal tokens: good passes, bad/expired/missing get 403', async () => {
    const { src, store } = await source()
    const body = Buffer.from('secret image')
    const remote = nameFor(body)
    await store.put(`data/${remote.slice(4)}`, one(body))
    const app = buildFdfsHttpApp({ source: src, antiSteal: { secret: 'FastDFS1234567890', ttlSec: 900 } })
    apps.push(app)
    const fileId = `group1/${remote}`
    const now = Math.floor(Date.now() / 1000)
    const good = genToken('FastDFS1234567890', fileId, now)
    expect((await app.inject({ method: 'GET', url: `/${fileId}?token=${good}&ts=${now}` })).statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: `/${fileId}?token=${'0'.repeat(32)}&ts=${now}` })).statusCode).toBe(403)
    const old = now - 1000
    expect((await app.inject({ method: 'GET', url: `/${fileId}?token=${genToken('FastDFS1234567890', fileId, old)}&ts=${old}` })).statusCode).toBe(403)
    expect((await app.inject({ method: 'GET', url: `/${fileId}` })).statusCode).toBe(403)
    expect(checkToken('k', 'id', genToken('k', 'id', 5), '5', 10, 20)).toBe('expired')
  })

  it('proxies a file that is not local yet from a holder, without loops', async () => {
    const holder = await source()
    const body = Buffer.from('only on the holder')
    const remote = nameFor(body, 'txt')
    await holder.store.put(`data/${remote.slice(4)}`, one(body))
    const holderApp = buildFdfsHttpApp({ source: holder.src })
    apps.push(holderApp)
    await holderApp.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(holderApp.server.address() as AddressInfo).port}`
    const lagging = await source(() => [base])
    const app = buildFdfsHttpApp({ source: lagging.src })
    apps.push(app)
    const res = await app.inject({ method: 'GET', url: `/group1/${remote}` })
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe(body.toString())
    const rng = await app.inject({ method: 'GET', url: `/group1/${remote}`, headers: { range: 'bytes=0-3' } })
    expect(rng.statusCode).toBe(206)
    expect(rng.body).toBe('only')
    const redirect = buildFdfsHttpApp({ source: lagging.src, missing: 'redirect' })
    apps.push(redirect)
    const rr = await redirect.inject({ method: 'GET', url: `/group1/${remote}` })
    expect(rr.statusCode).toBe(302)
    expect(rr.headers.location).toBe(`${base}/group1/${remote}`)
    // A forwarded request that misses is a plain 404 (no second hop).
    const missingName = nameFor(Buffer.from('nowhere'), 'txt')
    expect((await app.inject({ method: 'GET', url: `/group1/${missingName}` })).statusCode).toBe(404)
  })
})
