/**
 * LocalBlobStore.putNow, the synchronous small-body write behind the FastDFS upload and
 * sync-create fast paths: what it writes is what put writes, and it declines (undefined)
 * where it cannot write synchronously. Shared by put-now.test.ts (native unnamed files) and
 * put-now-no-native.test.ts (temp file + rename through node:fs).
 */
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LocalBlobStore } from '../../../src/engine/blob/local-blob-store.js'
import { crc32 } from '../../../src/engine/crc32.js'
import { tmpDir } from '../../helpers/proc.js'

export function putNowCases(label: string): void {
  describe(`${label}: LocalBlobStore.putNow`, () => {
    it('writes the body under the key with its mtime and CRC32, readable at once; refuses an existing key when told not to overwrite', async () => {
      const root = tmpDir('putnow')
      const s = await LocalBlobStore.open({ root })
      await s.usage() // free space known: putNow does not statfs itself
      const body = Buffer.from('hello, synchronous world')
      const mtime = new Date(1_700_000_000_000)
      const r = s.putNow('data/00/01/a', body, { mtime, overwrite: false })
      expect(r).toMatchObject({ key: 'data/00/01/a', size: body.length, crc32: crc32(body), mtimeMs: 1_700_000_000_000 })
      expect(readFileSync(path.join(root, 'data/00/01/a')).equals(body)).toBe(true)
      expect(statSync(path.join(root, 'data/00/01/a')).mtimeMs).toBe(1_700_000_000_000)
      expect(() => s.putNow('data/00/01/a', Buffer.from('other'), { overwrite: false })).toThrow(expect.objectContaining({ code: 'ENGINE_EXISTS' }))
      expect(readFileSync(path.join(root, 'data/00/01/a')).equals(body)).toBe(true)
      // overwrite allowed: replaced
      expect(s.putNow('data/00/01/a', Buffer.from('other'))?.size).toBe(5)
      expect(readFileSync(path.join(root, 'data/00/01/a'), 'utf8')).toBe('other')
      expect(() => s.putNow('../escape', body)).toThrow()
    })

    it('lets a key chooser pick the name from the CRC32 and size, drawing again on a collision', async () => {
      const s = await LocalBlobStore.open({ root: tmpDir('putnowc') })
      await s.usage()
      const body = Buffer.alloc(4096, 7)
      const seen: number[] = []
      const first = s.putNow(({ crc32: c, size, attempt }) => {
        seen.push(attempt)
        expect([c, size]).toEqual([crc32(body), 4096])
        return `data/00/00/f${attempt}`
      }, body)
      expect(first?.key).toBe('data/00/00/f0')
      const second = s.putNow(({ attempt }) => `data/00/00/f${attempt}`, body)
      expect(second?.key).toBe('data/00/00/f1')
    })

    it('declines, doing nothing, with fsync on, for a body over 64 KiB and before the free space is known', async () => {
      const root = tmpDir('putnowd')
      const s = await LocalBlobStore.open({ root })
      expect(s.putNow('data/00/00/early', Buffer.from('x'))).toBeUndefined() // no statfs yet (one starts)
      await s.usage()
      expect(s.putNow('data/00/00/big', Buffer.alloc(64 * 1024 + 1))).toBeUndefined()
      const synced = await LocalBlobStore.open({ root: tmpDir('putnowf'), fsync: 'always' })
      await synced.usage()
      expect(synced.putNow('data/00/00/x', Buffer.from('x'))).toBeUndefined()
      expect(() => statSync(path.join(root, 'data/00/00/early'))).toThrow()
    })

    it('refuses with NO_SPACE when the reserve would be crossed', async () => {
      const s = await LocalBlobStore.open({ root: tmpDir('putnowr'), reserved: { ratio: 1 } })
      await s.usage()
      expect(() => s.putNow('data/00/00/x', Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ENGINE_NO_SPACE' }))
    })

    it('copies a small view of a large buffer instead of keeping the large buffer alive', async () => {
      const s = await LocalBlobStore.open({ root: tmpDir('putnowv') })
      await s.usage()
      const big = Buffer.alloc(60_000, 1)
      const view = big.subarray(100, 200)
      s.putNow('data/00/00/v', view)
      big.fill(2) // the caller reuses its buffer: what was written and what is read stay the old bytes
      const r = s.readSmall('data/00/00/v', undefined, 0)
      if (!r || typeof r === 'symbol') throw new Error('no read')
      expect(r.framed.equals(Buffer.alloc(100, 1))).toBe(true)
    })
  })
}
