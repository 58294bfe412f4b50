/**
 * LocalBlobStore.putNow with the native addon (unnamed files named by link), and
 * Binlog.appendNow: what they write is what put/append write, and they decline
 * (undefined / canAppendNow false) where they cannot do it synchronously.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Binlog } from '../../../src/engine/binlog/binlog.js'
import { tmpDir } from '../../helpers/proc.js'
import { putNowCases } from './put-now.cases.js'

putNowCases('native')

describe('Binlog.appendNow', () => {
  it('writes the record at once, like append, and returns its end position', async () => {
    const dir = tmpDir('binnow')
    const b = await Binlog.open({ dir })
    expect(b.canAppendNow()).toBe(true)
    const p1 = b.appendNow('1 C a')
    const p2 = await b.append('2 C b')
    const p3 = b.appendNow('3 C c')
    expect([p1.offset, p2.offset, p3.offset]).toEqual([6, 12, 18])
    expect(readFileSync(path.join(dir, 'binlog.000'), 'utf8')).toBe('1 C a\n2 C b\n3 C c\n')
    expect(() => b.appendNow('bad\nline')).toThrow(/newline/)
    await b.close()
    expect(b.canAppendNow()).toBe(false)
  })

  it('is not available with fsync (appends are batched and synced off the main thread)', async () => {
    const b = await Binlog.open({ dir: tmpDir('binnowf'), fsync: true })
    expect(b.canAppendNow()).toBe(false)
    expect(() => b.appendNow('1 C a')).toThrow()
    await b.close()
  })
})
