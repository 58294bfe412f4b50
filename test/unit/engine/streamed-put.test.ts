/**
 * The streamed put's batch buffers (LocalBlobStore.put for bodies over SMALL_IO; engine/io/buffer-pool.ts):
 * bodies whose chunks straddle the 512 KiB batches land byte-exact with the right CRC32, a body that
 * fails mid-stream (while a batch is being written) leaves no file and no temp file, and the pool
 * lends and takes back buffers without ever holding one twice.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { BufferPool } from '../../../src/engine/io/buffer-pool.js'
import { crc32 } from '../../../src/engine/crc32.js'
import { tmpDir } from '../../helpers/proc.js'

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

async function* chunksOf(b: Buffer, size: number, failAfter?: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += size) {
    if (failAfter !== undefined && off >= failAfter) throw new Error('client went away')
    yield b.subarray(off, off + size)
    // Let a started batch write make progress between chunks, as socket reads do.
    await new Promise((r) => setImmediate(r))
  }
}

describe('streamed put batches', () => {
  it('lands bodies whose chunks straddle the batches byte-exact, sizes 64 KiB + 1 to 2.5 MiB', async () => {
    const root = tmpDir('streamed-put')
    const s = await LocalBlobStore.open({ root })
    const cases: Array<[number, number]> = [
      [65_537, 65_536],
      [524_288, 100_003],
      [524_289, 524_288],
      [1_048_576, 65_536],
      [1_363_149, 100_003],
      [2_621_440, 7_919],
    ]
    for (const [i, [size, chunk]] of cases.entries()) {
      const body = pattern(size, i)
      const r = await s.put(`data/k${i}`, chunksOf(body, chunk), { size })
      expect(r.size).toBe(size)
      expect(r.crc32).toBe(crc32(body))
      expect(readFileSync(path.join(root, 'data', `k${i}`)).equals(body), `case ${i}`).toBe(true)
    }
    // Concurrent puts each get their own buffers.
    const bodies = [0, 1, 2, 3].map((i) => pattern(1_200_000 + i, 50 + i))
    await Promise.all(bodies.map((b, i) => s.put(`data/c${i}`, chunksOf(b, 65_536), { size: b.length })))
    for (const [i, b] of bodies.entries()) expect(readFileSync(path.join(root, 'data', `c${i}`)).equals(b)).toBe(true)
  })

  it('a body that fails mid-stream leaves neither the blob nor a temp file, and the next put is intact', async () => {
    const root = tmpDir('streamed-put-fail')
    const s = await LocalBlobStore.open({ root })
    const body = pattern(1_500_000, 9)
    await expect(s.put('data/broken', chunksOf(body, 65_536, 700_000), { size: body.length })).rejects.toThrow()
    await expect(s.put('data/short', chunksOf(body.subarray(0, 900_000), 65_536), { size: body.length })).rejects.toThrow(/declared/)
    expect(await s.stat('data/broken')).toBeUndefined()
    expect(await s.stat('data/short')).toBeUndefined()
    // Nothing but the store's own directories: no partial blob, no temp file left behind.
    const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    expect(files.map((e) => e.name)).toEqual([])
    const good = pattern(1_500_000, 10)
    await s.put('data/good', chunksOf(good, 65_536), { size: good.length })
    expect(readFileSync(path.join(root, 'data', 'good')).equals(good)).toBe(true)
  })

  it('BufferPool lends new buffers when empty, keeps at most `keep`, and never the same one twice', () => {
    const p = new BufferPool(1024, 2)
    const a = p.take()
    const b = p.take()
    const c = p.take()
    expect(new Set([a, b, c]).size).toBe(3)
    expect(a.length).toBe(1024)
    p.give(a)
    p.give(a) // a second give of the same buffer is ignored
    p.give(b)
    p.give(c) // over `keep`: dropped
    p.give(Buffer.alloc(10)) // wrong size: dropped
    expect(p.idleCount).toBe(2)
    const x = p.take()
    const y = p.take()
    expect(new Set([x, y])).toEqual(new Set([a, b]))
    expect(p.take()).not.toBe(a)
  })
})
