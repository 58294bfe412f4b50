/**
 * The BlobStore contract suite: every BlobStore implementation runs these
 * (tus-node-server style). Call `blobStoreContract(name, make)` from a test file.
 */
import { createHash } from 'node:crypto'
import { readSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { BlobStore } from '../../src/engine/blob/blob-store.js'
import { crc32 } from '../../src/engine/crc32.js'
import { isEngineError } from '../../src/engine/errors.js'

async function* chunks(...parts: Array<string | Buffer>): AsyncGenerator<Buffer> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p
}

async function* failing(after: Buffer): AsyncGenerator<Buffer> {
  yield after
  throw new Error('client went away')
}

async function readAll(store: BlobStore, key: string, range?: { start: number; end?: number }): Promise<Buffer | undefined> {
  const h = await store.openRead(key, range)
  if (!h) return undefined
  const out: Buffer[] = []
  for await (const c of h.stream) out.push(c as Buffer)
  return Buffer.concat(out)
}

export function blobStoreContract(name: string, make: () => Promise<BlobStore>): void {
  describe(`BlobStore contract: ${name}`, () => {
    it('put streams a body, returns size and CRC32, and reads back', async () => {
      const s = await make()
      const body = Buffer.from('hello, tandem')
      const r = await s.put('data/00/01/a.bin', chunks(body.subarray(0, 5), body.subarray(5)), { size: body.length, digest: 'md5' })
      expect(r.size).toBe(body.length)
      expect(r.crc32).toBe(crc32(body))
      expect(r.digest?.toString('hex')).toBe(createHash('md5').update(body).digest('hex'))
      expect(await readAll(s, 'data/00/01/a.bin')).toEqual(body)
      expect((await s.stat('data/00/01/a.bin'))?.size).toBe(body.length)
    })

    it('absence is undefined/false, never an exception', async () => {
      const s = await make()
      expect(await s.stat('nope/x')).toBeUndefined()
      expect(await s.openRead('nope/x')).toBeUndefined()
      expect(await s.delete('nope/x')).toBe(false)
      expect(await s.checksum('nope/x')).toBeUndefined()
      expect(await s.rename('nope/x', 'nope/y')).toBe(false)
    })

    it('rejects keys with path tricks', async () => {
      const s = await make()
      for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', 'a\0b', '', 'a\\b', '.tandem-tmp/x']) {
        await expect(s.put(bad, chunks('x'))).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_BAD_KEY'))
        await expect(s.stat(bad)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_BAD_KEY'))
      }
    })

    it('a short or long body fails with SIZE_MISMATCH and leaves nothing', async () => {
      const s = await make()
      await expect(s.put('k/short', chunks('abc'), { size: 10 })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_SIZE_MISMATCH'))
      await expect(s.put('k/long', chunks('abcdefghijk'), { size: 10 })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_SIZE_MISMATCH'))
      expect(await s.stat('k/short')).toBeUndefined()
      expect(await s.stat('k/long')).toBeUndefined()
      const left: string[] = []
      for await (const k of s.list()) left.push(k)
      expect(left).toEqual([])
    })

    it('a body that errors midway leaves no file and the old version intact', async () => {
      const s = await make()
      await s.put('k/v', chunks('old'))
      await expect(s.put('k/v', failing(Buffer.from('new-partial')))).rejects.toThrow()
      expect((await readAll(s, 'k/v'))?.toString()).toBe('old')
    })

    it('digest mismatch rejects and writes nothing', async () => {
      const s = await make()
      await expect(s.put('k/md5', chunks('data'), { digest: 'md5', expectDigest: Buffer.alloc(16) })).rejects.toSatisfy((e: unknown) =>
        isEngineError(e, 'ENGINE_CHECKSUM_MISMATCH'),
      )
      expect(await s.stat('k/md5')).toBeUndefined()
    })

    it('overwrite:false refuses an existing key', async () => {
      const s = await make()
      await s.put('k/once', chunks('1'))
      await expect(s.put('k/once', chunks('2'), { overwrite: false })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_EXISTS'))
      expect((await readAll(s, 'k/once'))?.toString()).toBe('1')
    })

    it('overwrite:false with a declared size refuses an existing key, small and large, and leaves it intact', async () => {
      const s = await make()
      for (const size of [7, 300_000]) {
        const first = Buffer.alloc(size, 1)
        await s.put(`k/sized-${size}`, chunks(first), { size })
        await expect(s.put(`k/sized-${size}`, chunks(Buffer.alloc(size, 2)), { size, overwrite: false })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_EXISTS'))
        expect((await readAll(s, `k/sized-${size}`))?.equals(first)).toBe(true)
        const fresh = await s.put(`k/new-${size}`, chunks(first), { size, overwrite: false })
        expect(fresh.size).toBe(size)
      }
      const left: string[] = []
      for await (const k of s.list('k')) left.push(k)
      expect(left.sort()).toEqual(['k/new-300000', 'k/new-7', 'k/sized-300000', 'k/sized-7'])
    })

    it('ranges: start/end are clamped, start beyond size is BAD_RANGE', async () => {
      const s = await make()
      await s.put('r/x', chunks('0123456789'))
      expect((await readAll(s, 'r/x', { start: 3, end: 6 }))?.toString()).toBe('345')
      expect((await readAll(s, 'r/x', { start: 8, end: 100 }))?.toString()).toBe('89')
      expect((await readAll(s, 'r/x', { start: 10 }))?.toString()).toBe('')
      await expect(s.openRead('r/x', { start: 11 })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_BAD_RANGE'))
    })

    it('large bodies stream through (multi-chunk read path)', async () => {
      const s = await make()
      const big = Buffer.alloc(3 * 1024 * 1024 + 17)
      for (let i = 0; i < big.length; i++) big[i] = i % 251
      const r = await s.put('big/b', chunks(big.subarray(0, 1_000_000), big.subarray(1_000_000)), { size: big.length })
      expect(r.crc32).toBe(crc32(big))
      expect((await readAll(s, 'big/b'))?.equals(big)).toBe(true)
      expect((await readAll(s, 'big/b', { start: 100_000, end: 2_000_000 }))?.equals(big.subarray(100_000, 2_000_000))).toBe(true)
      expect((await s.checksum('big/b'))?.crc32).toBe(crc32(big))
    })

    it('a ReadHandle fd, when offered, reads the range by offset and closes with the stream', async () => {
      const s = await make()
      const big = Buffer.alloc(512 * 1024 + 5)
      for (let i = 0; i < big.length; i++) big[i] = (i * 13) % 256
      await s.put('fd/b', chunks(big), { size: big.length })
      expect((await s.openRead('fd/b', { start: 0, end: 10 }))?.fd).toBeUndefined() // in-memory range: nothing open
      const h = (await s.openRead('fd/b', { start: 70_000, end: 470_000 }))!
      if (h.fd === undefined) return // optional: a store without local files streams only
      expect(h.buffer).toBeUndefined()
      const got = Buffer.alloc(h.end - h.start)
      let off = 0
      while (off < got.length) off += readSync(h.fd, got, off, got.length - off, h.start + off)
      expect(got.equals(big.subarray(70_000, 470_000))).toBe(true)
      // Destroying the unread stream releases the descriptor ('close' comes after it is closed).
      await new Promise<void>((resolve) => {
        h.stream.once('close', () => resolve())
        h.stream.destroy()
      })
    })

    it('append, modify, truncate', async () => {
      const s = await make()
      await s.put('ap/f', chunks('hello'))
      expect((await s.append('ap/f', chunks(' world'), 6)).size).toBe(11)
      expect((await s.modify('ap/f', 0, chunks('J'), 1)).size).toBe(11)
      expect((await readAll(s, 'ap/f'))?.toString()).toBe('Jello world')
      expect((await s.modify('ap/f', 11, chunks('!!'), 2)).size).toBe(13)
      expect((await s.truncate('ap/f', 5)).size).toBe(5)
      expect((await readAll(s, 'ap/f'))?.toString()).toBe('Jello')
      await expect(s.modify('ap/f', 6, chunks('x'), 1)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_BAD_RANGE'))
      await expect(s.append('ap/missing', chunks('x'), 1)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_NOT_FOUND'))
    })

    it('reads after small sized puts always see the current bytes (append, modify, truncate, rename, link, delete, overwrite)', async () => {
      const s = await make()
      const put = (k: string, v: string, overwrite = true) => s.put(k, chunks(v), { size: Buffer.byteLength(v), overwrite })
      await put('rc/a', 'hello')
      expect((await readAll(s, 'rc/a'))?.toString()).toBe('hello')
      expect((await readAll(s, 'rc/a', { start: 1, end: 3 }))?.toString()).toBe('el')
      await s.append('rc/a', chunks('!'), 1)
      expect((await readAll(s, 'rc/a'))?.toString()).toBe('hello!')
      await put('rc/b', 'abcdef')
      await s.modify('rc/b', 0, chunks('X'), 1)
      expect((await readAll(s, 'rc/b'))?.toString()).toBe('Xbcdef')
      await put('rc/c', 'abcdef')
      await s.truncate('rc/c', 2)
      expect((await readAll(s, 'rc/c'))?.toString()).toBe('ab')
      await put('rc/d', 'dddd')
      await put('rc/e', 'eeee')
      expect(await s.rename('rc/d', 'rc/e')).toBe(true)
      expect((await readAll(s, 'rc/e'))?.toString()).toBe('dddd')
      expect(await s.openRead('rc/d')).toBeUndefined()
      await put('rc/f', 'ffff')
      await s.link('rc/f', 'rc/g')
      await s.append('rc/g', chunks('+'), 1)
      expect((await readAll(s, 'rc/f'))?.toString()).toBe('ffff+')
      await put('rc/h', 'old')
      await put('rc/h', 'newer')
      expect((await readAll(s, 'rc/h'))?.toString()).toBe('newer')
      await expect(put('rc/h', 'nope', false)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_EXISTS'))
      expect((await readAll(s, 'rc/h'))?.toString()).toBe('newer')
      expect(await s.delete('rc/h')).toBe(true)
      expect(await s.openRead('rc/h')).toBeUndefined()
      const h = await s.openRead('rc/a')
      expect(h?.size).toBe(6)
      expect(Math.abs((h?.mtimeMs ?? 0) - ((await s.stat('rc/a'))?.mtimeMs ?? -1))).toBeLessThan(1)
      h?.stream.destroy()
    })

    it('a failed append is cut back to the old size', async () => {
      const s = await make()
      await s.put('ap/g', chunks('base'))
      await expect(s.append('ap/g', failing(Buffer.from('partial')), 100)).rejects.toThrow()
      expect((await readAll(s, 'ap/g'))?.toString()).toBe('base')
      await expect(s.append('ap/g', chunks('xy'), 5)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_SIZE_MISMATCH'))
      expect((await readAll(s, 'ap/g'))?.toString()).toBe('base')
    })

    it('concurrent appends to one blob serialise', async () => {
      const s = await make()
      await s.put('ap/c', chunks(''))
      await Promise.all(Array.from({ length: 20 }, (_, i) => s.append('ap/c', chunks(String.fromCharCode(65 + i).repeat(100)), 100)))
      const all = (await readAll(s, 'ap/c'))!.toString()
      expect(all.length).toBe(2000)
      for (let i = 0; i < 20; i++) expect(all.slice(i * 100, i * 100 + 100)).toMatch(/^(.)\1{99}$/)
    })

    it('rename and link', async () => {
      const s = await make()
      await s.put('rn/a', chunks('A'))
      expect(await s.rename('rn/a', 'rn/sub/b')).toBe(true)
      expect(await s.stat('rn/a')).toBeUndefined()
      await s.put('rn/c', chunks('C'))
      await expect(s.rename('rn/c', 'rn/sub/b', false)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_EXISTS'))
      await s.link('rn/sub/b', 'rn/l')
      expect((await readAll(s, 'rn/l'))?.toString()).toBe('A')
      await expect(s.link('rn/none', 'rn/l2')).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_NOT_FOUND'))
    })

    it('list yields every stored key and no temp files', async () => {
      const s = await make()
      await s.put('l/1', chunks('1'))
      await s.put('l/d/2', chunks('2'))
      const keys: string[] = []
      for await (const k of s.list('l')) keys.push(k)
      expect(keys.sort()).toEqual(['l/1', 'l/d/2'])
    })

    it('usage reports space and ensureFree honours the reserve', async () => {
      const s = await make()
      const u = await s.usage()
      expect(u.totalBytes).toBeGreaterThan(0)
      expect(u.freeBytes).toBeGreaterThanOrEqual(0)
      await expect(s.ensureFree(u.totalBytes * 2)).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_NO_SPACE'))
      await expect(s.put('x/huge', chunks('x'), { size: u.totalBytes * 2 })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_NO_SPACE'))
    })

    it('a KeyChooser names the blob after its CRC and size, and never clobbers', async () => {
      const s = await make()
      for (const size of [5, 200_000]) {
        const body = Buffer.alloc(size, 7)
        const seen: number[] = []
        const r = await s.put(({ crc32: c, size: n, attempt }) => {
          seen.push(attempt)
          return `kc/${n}-${c.toString(16)}${attempt ? `-${attempt}` : ''}`
        }, chunks(body), { size })
        expect(r.key).toBe(`kc/${size}-${crc32(body).toString(16)}`)
        const again = await s.put(({ crc32: c, size: n, attempt }) => `kc/${n}-${c.toString(16)}${attempt ? `-${attempt}` : ''}`, chunks(body), { size })
        expect(again.key).toBe(`kc/${size}-${crc32(body).toString(16)}-1`)
        expect((await readAll(s, r.key))?.equals(body)).toBe(true)
      }
    })

    it('small declared bodies: failure midway, digest mismatch and reads carry a buffer', async () => {
      const s = await make()
      await expect(s.put('sm/x', failing(Buffer.from('ab')), { size: 10 })).rejects.toThrow()
      await expect(s.put('sm/y', chunks('data'), { size: 4, digest: 'sha1', expectDigest: Buffer.alloc(20) })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_CHECKSUM_MISMATCH'))
      expect(await s.stat('sm/x')).toBeUndefined()
      expect(await s.stat('sm/y')).toBeUndefined()
      const r = await s.put('sm/z', chunks('hello ', 'small'), { size: 11, mtime: new Date(1_700_000_000_000) })
      expect(r.crc32).toBe(crc32(Buffer.from('hello small')))
      expect(Math.round((await s.stat('sm/z'))!.mtimeMs)).toBe(1_700_000_000_000)
      const h = await s.openRead('sm/z', { start: 6 })
      expect(h?.buffer?.toString()).toBe('small')
      const left: string[] = []
      for await (const k of s.list('sm')) left.push(k)
      expect(left).toEqual(['sm/z'])
    })

    it('aborting a put removes the temp file', async () => {
      const s = await make()
      const ac = new AbortController()
      async function* slow(): AsyncGenerator<Buffer> {
        yield Buffer.from('a')
        ac.abort()
        yield Buffer.from('b')
      }
      await expect(s.put('ab/x', slow(), { signal: ac.signal })).rejects.toSatisfy((e: unknown) => isEngineError(e, 'ENGINE_ABORTED'))
      expect(await s.stat('ab/x')).toBeUndefined()
    })
  })
}
