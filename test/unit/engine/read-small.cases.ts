/**
 * LocalBlobStore.readSmall, the synchronous small-range read behind the FastDFS storage's
 * download fast path. Shared by read-small.test.ts (native readInto) and
 * read-small-no-native.test.ts (node:fs fallback), which must agree.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LARGE, LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { tmpDir } from '../../helpers/proc.js'

const once = (b: Buffer) => (async function* () {
  yield b
})()

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

export function readSmallCases(label: string): void {
  for (const cache of [true, false]) {
    describe(`${label}: readSmall (${cache ? 'recent-writes cache on' : 'cache off, from disk'})`, () => {
      const open = async () => {
        const root = tmpDir('rsmall')
        return { root, s: await LocalBlobStore.open({ root, recentCacheBytes: cache ? 32 * 1024 * 1024 : 0 }) }
      }

      it('returns the bytes after `headroom` free bytes, with the blob size and mtime', async () => {
        const { root, s } = await open()
        const body = bytes(5000, 1)
        await s.put('data/00/00/a', once(body), { size: body.length })
        const r = s.readSmall('data/00/00/a', undefined, 10)
        if (r === undefined || r === LARGE) throw new Error(`unexpected ${String(r)}`)
        expect(r.framed.length).toBe(5010)
        expect(r.framed.subarray(10).equals(body)).toBe(true)
        expect(r).toMatchObject({ size: 5000, start: 0, end: 5000, mtimeMs: statSync(path.join(root, 'data/00/00/a')).mtimeMs })
      })

      it('reads ranges, clamps the end to the size, allows start = size and rejects start > size', async () => {
        const { s } = await open()
        const body = bytes(3000, 2)
        await s.put('data/00/00/r', once(body), { size: body.length })
        const mid = s.readSmall('data/00/00/r', { start: 100, end: 250 }, 0)
        if (!mid || mid === LARGE) throw new Error('no read')
        expect(mid.framed.equals(body.subarray(100, 250))).toBe(true)
        const tail = s.readSmall('data/00/00/r', { start: 2990, end: 9999 }, 4)
        if (!tail || tail === LARGE) throw new Error('no read')
        expect(tail.framed.subarray(4).equals(body.subarray(2990))).toBe(true)
        expect(tail).toMatchObject({ start: 2990, end: 3000, size: 3000 })
        const empty = s.readSmall('data/00/00/r', { start: 3000 }, 2)
        if (!empty || empty === LARGE) throw new Error('no read')
        expect(empty.framed.length).toBe(2)
        expect(() => s.readSmall('data/00/00/r', { start: 3001 }, 0)).toThrow(/range/)
        expect(() => s.readSmall('data/00/00/r', { start: -1 }, 0)).toThrow(/range/)
      })

      it('says absent for a missing key, a directory and a path under a file', async () => {
        const { root, s } = await open()
        expect(s.readSmall('data/00/00/none', undefined, 10)).toBeUndefined()
        mkdirSync(path.join(root, 'data/00/01'), { recursive: true })
        expect(s.readSmall('data/00/01', undefined, 10)).toBeUndefined()
        await s.put('data/00/00/f', once(bytes(10, 3)), { size: 10 })
        expect(s.readSmall('data/00/00/f/x', undefined, 10)).toBeUndefined()
      })

      it('answers LARGE for a range over 64 KiB, and reads a small range of a large file', async () => {
        const { s } = await open()
        const body = bytes(200 * 1024, 4)
        await s.put('data/00/00/big', once(body), { size: body.length })
        expect(s.readSmall('data/00/00/big', undefined, 10)).toBe(LARGE)
        const part = s.readSmall('data/00/00/big', { start: 150_000, end: 151_000 }, 10)
        if (!part || part === LARGE) throw new Error('no read')
        expect(part.framed.subarray(10).equals(body.subarray(150_000, 151_000))).toBe(true)
        expect(part.size).toBe(200 * 1024)
      })

      it('reads a file replaced behind the store, and pieces of later reads never overwrite earlier ones', async () => {
        const { root, s } = await open()
        await s.put('data/00/00/x', once(bytes(4096, 5)), { size: 4096 })
        const replaced = bytes(4000, 6)
        writeFileSync(path.join(root, 'data/00/00/x'), replaced)
        const first = s.readSmall('data/00/00/x', undefined, 10)
        if (!first || first === LARGE) throw new Error('no read')
        expect(first.framed.subarray(10).equals(replaced)).toBe(true)
        const kept = Buffer.from(first.framed)
        // Enough reads to roll over several slabs.
        await s.put('data/00/00/y', once(bytes(60_000, 7)), { size: 60_000 })
        for (let i = 0; i < 40; i++) s.readSmall('data/00/00/y', undefined, 10)
        expect(first.framed.equals(kept)).toBe(true)
      })
    })
  }
}
