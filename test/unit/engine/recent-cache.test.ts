import { describe, expect, it } from 'vitest'
import { LARGE, LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { RecentCache } from '../../../src/engine/blob/recent-cache.js'
import { tmpDir } from '../../helpers/proc.js'

const once = (b: Buffer) => (async function* () {
  yield b
})()

async function drain(r: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of r) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

function bytes(n: number, fill: number): Buffer {
  return Buffer.alloc(n, fill)
}

describe('RecentCache (ring of recently written bytes)', () => {
  it('keeps a copy: changing the written buffer afterwards does not change the entry', () => {
    const c = new RecentCache(64 * 1024)
    const b = bytes(100, 1)
    c.set('a', b, 5, 7)
    b.fill(9)
    const hit = c.get('a')!
    expect(hit.buf.equals(bytes(100, 1))).toBe(true)
    expect(hit.mtimeMs).toBe(5)
    expect(hit.ino).toBe(7)
  })

  it('drops the oldest entries as the ring wraps over them, never serving overwritten bytes', () => {
    const cap = 16 * 1024
    const c = new RecentCache(cap)
    // 1000-byte entries: 16 fit per lap, the 17th starts the next lap over entry 0.
    for (let i = 0; i < 40; i++) {
      c.set(`k${i}`, bytes(1000, i), i, i)
      for (let j = 0; j <= i; j++) {
        const hit = c.get(`k${j}`)
        if (hit) expect(hit.buf.equals(bytes(1000, j))).toBe(true)
      }
      // The newest always stays; at most one lap of entries is kept.
      expect(c.get(`k${i}`)).toBeDefined()
      expect(c.get(`k${i - 17}`)).toBeUndefined()
    }
    expect(c.get('k39')!.buf[0]).toBe(39)
    expect(c.get('k25')!.buf[999]).toBe(25)
  })

  it('entries of mixed sizes stay contiguous across the end of the ring', () => {
    const cap = 8 * 1024
    const c = new RecentCache(cap)
    const sizes = [300, 511, 7, 0, 450, 512, 33, 401, 509, 120]
    for (let i = 0; i < 200; i++) {
      const n = sizes[i % sizes.length]!
      c.set(`k${i}`, bytes(n, i & 0xff), i, i)
      const hit = c.get(`k${i}`)!
      expect(hit.buf.length).toBe(n)
      expect(hit.buf.equals(bytes(n, i & 0xff))).toBe(true)
      for (let j = Math.max(0, i - 40); j < i; j++) {
        const h = c.get(`k${j}`)
        if (h) expect(h.buf.equals(bytes(sizes[j % sizes.length]!, j & 0xff))).toBe(true)
      }
    }
  })

  it('a key set again takes its new bytes; delete forgets it', () => {
    const c = new RecentCache(64 * 1024)
    c.set('a', bytes(10, 1), 1, 1)
    c.set('a', bytes(20, 2), 2, 2)
    expect(c.get('a')!.buf.equals(bytes(20, 2))).toBe(true)
    c.delete('a')
    expect(c.get('a')).toBeUndefined()
  })

  it('does not keep entries over 1/16 of the ring, and drops the stale entry of that key', () => {
    const c = new RecentCache(16 * 1024)
    c.set('a', bytes(100, 1), 1, 1)
    c.set('a', bytes(1025, 2), 2, 2)
    expect(c.get('a')).toBeUndefined()
  })

  it('size 0 is off', () => {
    const c = new RecentCache(0)
    c.set('a', bytes(10, 1), 1, 1)
    expect(c.get('a')).toBeUndefined()
  })
})

describe('LocalBlobStore reads served from the recent-writes ring', () => {
  it('a read handle and a small read keep their bytes while later writes wrap the ring over them', async () => {
    const s = await LocalBlobStore.open({ root: tmpDir('ring'), recentCacheBytes: 64 * 1024 })
    const first = bytes(3000, 7)
    await s.put('data/00/00/first', once(first), { size: first.length })
    const handle = (await s.openRead('data/00/00/first'))!
    const small = s.readSmall('data/00/00/first', undefined, 0)
    if (!small || small === LARGE) throw new Error('no read')
    // 100 x 3000 bytes: the ring (64 KiB) laps several times over `first`'s bytes.
    for (let i = 0; i < 100; i++) await s.put(`data/00/01/f${i}`, once(bytes(3000, i)), { size: 3000 })
    expect((await drain(handle.stream)).equals(first)).toBe(true)
    expect(small.framed.equals(first)).toBe(true)
    // Overwritten in the ring: read from the file, still the same bytes.
    const again = s.readSmall('data/00/00/first', undefined, 0)
    if (!again || again === LARGE) throw new Error('no read')
    expect(again.framed.equals(first)).toBe(true)
    const last = s.readSmall('data/00/01/f99', undefined, 0)
    if (!last || last === LARGE) throw new Error('no read')
    expect(last.framed.equals(bytes(3000, 99))).toBe(true)
  })
})
