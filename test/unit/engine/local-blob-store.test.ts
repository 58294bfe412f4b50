import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LocalBlobStore, TMP_DIR } from '../../../src/engine/blob/local-blob-store.js'
import { blobStoreContract } from '../../contract/blob-store.contract.js'
import { tmpDir } from '../../helpers/proc.js'

blobStoreContract('LocalBlobStore', () => LocalBlobStore.open({ root: tmpDir('blob') }))
blobStoreContract('LocalBlobStore (fsync always)', () => LocalBlobStore.open({ root: tmpDir('blobsync'), fsync: 'always' }))

describe('LocalBlobStore specifics', () => {
  it('removes temp files left by a crashed process when opened', async () => {
    const root = tmpDir('blobcrash')
    await LocalBlobStore.open({ root })
    writeFileSync(path.join(root, TMP_DIR, '123-deadbeef'), 'partial upload')
    await LocalBlobStore.open({ root })
    expect(readdirSync(path.join(root, TMP_DIR))).toEqual([])
  })

  it('a small blob removed or replaced behind its back is not served from the recent-writes cache', async () => {
    const root = tmpDir('blobrecent')
    const s = await LocalBlobStore.open({ root })
    const body = (v: string) => (async function* () { yield Buffer.from(v) })()
    await s.put('r/a', body('cached'), { size: 6 })
    expect((await s.openRead('r/a'))?.buffer?.toString()).toBe('cached')
    rmSync(path.join(root, 'r/a'))
    expect(await s.openRead('r/a')).toBeUndefined()
    await s.put('r/b', body('first!'), { size: 6 })
    writeFileSync(path.join(root, 'r/b.new'), 'second')
    rmSync(path.join(root, 'r/b'))
    writeFileSync(path.join(root, 'r/b'), 'other!')
    expect((await s.openRead('r/b'))?.buffer?.toString()).toBe('other!')
  })

  it('a small put that must not replace leaves no temp entry and keeps its mtime (unnamed-file path where the addon has it)', async () => {
    const root = tmpDir('blobunnamed')
    const s = await LocalBlobStore.open({ root })
    const mtime = new Date(1_600_000_000_000)
    const body = (async function* () { yield Buffer.from('abc'); yield Buffer.from('def') })()
    const r = await s.put('u/a', body, { size: 6, overwrite: false, mtime })
    expect(r.mtimeMs).toBe(1_600_000_000_000)
    expect(readdirSync(path.join(root, TMP_DIR))).toEqual([])
    const st = statSync(path.join(root, 'u/a'))
    expect(st.nlink).toBe(1)
    expect(st.mtimeMs).toBe(1_600_000_000_000)
    expect((await s.openRead('u/a'))?.buffer?.toString()).toBe('abcdef')
    await expect(s.put('u/a', (async function* () { yield Buffer.from('zzzzzz') })(), { size: 6, overwrite: false })).rejects.toThrow(/exists/)
    expect(readdirSync(path.join(root, TMP_DIR))).toEqual([])
    await s.put('u/a', (async function* () { yield Buffer.from('yyyyyy') })(), { size: 6 }) // may replace
    expect((await s.openRead('u/a'))?.buffer?.toString()).toBe('yyyyyy')
    expect(readdirSync(path.join(root, 'u')).sort()).toEqual(['a'])
    expect(readdirSync(path.join(root, TMP_DIR))).toEqual([])
    rmSync(path.join(root, 'u/a'))
    expect(await s.openRead('u/a')).toBeUndefined()
  })

  it('applies a ratio reserve', async () => {
    const s = await LocalBlobStore.open({ root: tmpDir('blobres'), reserved: { ratio: 1 } })
    await expect(s.ensureFree(1)).rejects.toThrow(/no space/)
  })
})
