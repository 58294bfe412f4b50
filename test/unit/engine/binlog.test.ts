import { appendFileSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Binlog } from '../../../src/engine/binlog/binlog.js'
import { tmpDir } from '../../helpers/proc.js'

describe('Binlog', () => {
  it('appends records in order and reads them back from a cursor', async () => {
    const dir = tmpDir('binlog')
    const b = await Binlog.open({ dir })
    const positions = await Promise.all(['1 C a', '2 C b', '3 D a'].map((r) => b.append(r)))
    expect(positions[2]).toEqual(b.end())
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('1 C a\n2 C b\n3 D a\n')
    const r1 = await b.read({ index: 0, offset: 0 }, 2)
    expect(r1.records).toEqual(['1 C a', '2 C b'])
    const r2 = await b.read(r1.next, 10)
    expect(r2.records).toEqual(['3 D a'])
    expect(r2.next).toEqual(b.end())
    expect((await b.read(r2.next, 10)).records).toEqual([])
    await b.close()
  })

  it('fsync mode batches appends in one tick and reports each record end', async () => {
    const b = await Binlog.open({ dir: tmpDir('binlogfsync'), fsync: true, rotateBytes: 30 })
    const pos = await Promise.all(['1 C a', '2 C b', '3 C c'].map((r) => b.append(r)))
    expect(pos.map((p) => p.offset)).toEqual([6, 12, 18])
    for (let i = 0; i < 6; i++) await b.append(`${i} D x`)
    expect(b.end().index).toBeGreaterThan(0)
    const r = await b.read({ index: 0, offset: 0 }, 100)
    expect(r.records.slice(0, 3)).toEqual(['1 C a', '2 C b', '3 C c'])
    await b.close()
  })

  it('rotates files and reads across them', async () => {
    const dir = tmpDir('binlogrot')
    const b = await Binlog.open({ dir, rotateBytes: 20 })
    for (let i = 0; i < 10; i++) await b.append(`${i} C file${i}`)
    expect(b.end().index).toBeGreaterThan(0)
    const all: string[] = []
    let pos = { index: 0, offset: 0 }
    for (;;) {
      const r = await b.read(pos, 3)
      if (!r.records.length) break
      all.push(...r.records)
      pos = r.next
    }
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `${i} C file${i}`))
    await b.close()
    const again = await Binlog.open({ dir, rotateBytes: 20 })
    expect(again.end()).toEqual(b.end())
    await again.close()
  })

  it('keeps per-peer cursors durably, absent means the start', async () => {
    const dir = tmpDir('binlogcur')
    const b = await Binlog.open({ dir })
    expect(await b.cursor('127.0.0.12_23000')).toEqual({ index: 0, offset: 0, extra: {} })
    await b.saveCursor('127.0.0.12_23000', { index: 0, offset: 42, extra: { need_sync_old: '0' } })
    const b2 = await Binlog.open({ dir })
    expect(await b2.cursor('127.0.0.12_23000')).toEqual({ index: 0, offset: 42, extra: { need_sync_old: '0' } })
    await expect(b2.saveCursor('../evil', { index: 0, offset: 0, extra: {} })).rejects.toThrow()
  })

  it('drops a torn last record after a crash', async () => {
    const dir = tmpDir('binlogtorn')
    const b = await Binlog.open({ dir })
    await b.append('1 C ok')
    await b.close()
    appendFileSync(b.fileName(0), '2 C tor')
    const b2 = await Binlog.open({ dir })
    expect((await b2.read({ index: 0, offset: 0 }, 10)).records).toEqual(['1 C ok'])
    await b2.append('3 C next')
    expect((await b2.read({ index: 0, offset: 0 }, 10)).records).toEqual(['1 C ok', '3 C next'])
  })

  it('wakes a waiting reader on append', async () => {
    const b = await Binlog.open({ dir: tmpDir('binlogwait') })
    const end = b.end()
    const t0 = Date.now()
    const waited = b.waitForAppend(end, 5000)
    setTimeout(() => void b.append('x'), 20)
    await waited
    expect(Date.now() - t0).toBeLessThan(2000)
    // A wait that times out leaves no listener behind.
    for (let i = 0; i < 5; i++) await b.waitForAppend(b.end(), 1)
    expect(b.listenerCount('append')).toBe(0)
  })
  it('counts records and bytes after a position across rotated files and a reopen', async () => {
    const dir = tmpDir('binlogcount')
    const b = await Binlog.open({ dir, rotateBytes: 25 })
    const ends = []
    for (let i = 0; i < 12; i++) ends.push(await b.append(`${i} C file${i}`))
    expect(b.end().index).toBeGreaterThan(2)
    expect(b.appendedRecords).toBe(12)
    const start = { index: 0, offset: 0 }
    expect(await b.countRecords(start, b.end())).toBe(12)
    // From the end of record 3 (in some earlier file) to the end: 8 records, whatever the files.
    expect(await b.countRecords(ends[3], b.end())).toBe(8)
    expect(await b.countRecords(ends[3], ends[7])).toBe(4)
    const total = Array.from({ length: 12 }, (_, i) => `${i} C file${i}\n`.length).reduce((x, y) => x + y)
    expect(b.bytesAfter(start)).toBe(total)
    expect(b.bytesAfter(ends[3])).toBe(total - 4 * '0 C file0\n'.length)
    expect(b.bytesAfter(b.end())).toBe(0)
    await b.close()
    // A reopened binlog counts appends afresh; the count from a saved position still spans the files.
    const again = await Binlog.open({ dir, rotateBytes: 25 })
    expect(again.appendedRecords).toBe(0)
    const mark = again.end()
    await again.append('12 D file0')
    expect(again.appendedRecords).toBe(1)
    expect(await again.countRecords(ends[5], again.end())).toBe(7)
    expect(await again.countRecords(mark, again.end())).toBe(1)
    expect(again.bytesAfter(ends[10])).toBe('11 C file11\n'.length + '12 D file0\n'.length)
    await again.close()
  })

  it('fsync mode counts appended records when they are flushed', async () => {
    const b = await Binlog.open({ dir: tmpDir('binlogcountfs'), fsync: true, rotateBytes: 20 })
    await Promise.all(Array.from({ length: 9 }, (_, i) => b.append(`${i} C x${i}`)))
    expect(b.appendedRecords).toBe(9)
    expect(await b.countRecords({ index: 0, offset: 0 }, b.end())).toBe(9)
    await b.close()
  })

  it('held records are written in one go by flushHeld, in order with other appends, and unseen until then', async () => {
    const dir = tmpDir('binlogheld')
    const b = await Binlog.open({ dir })
    const appends: unknown[] = []
    b.on('append', (p) => appends.push(p))
    const p1 = b.appendHeld('1 c a')
    const p2 = b.appendHeld('2 c b')
    expect(p1).toEqual({ index: 0, offset: 6 })
    expect(p2).toEqual({ index: 0, offset: 12 })
    expect(b.heldRecords).toBe(2)
    // Not written, not visible to readers yet.
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('')
    expect(b.end()).toEqual({ index: 0, offset: 0 })
    expect((await b.read({ index: 0, offset: 0 }, 10)).records).toEqual([])
    b.flushHeld()
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('1 c a\n2 c b\n')
    expect(b.end()).toEqual(p2)
    expect(appends).toEqual([p2])
    expect(b.appendedRecords).toBe(2)
    b.flushHeld() // nothing held: no write, no event
    expect(appends.length).toBe(1)
    // An immediate append writes what is held first, keeping the order of the calls.
    b.appendHeld('3 c c')
    const p4 = b.appendNow('4 C d')
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('1 c a\n2 c b\n3 c c\n4 C d\n')
    expect(p4).toEqual(b.end())
    // So does an async append, and close.
    b.appendHeld('5 c e')
    await b.append('6 D a')
    b.appendHeld('7 c f')
    await b.close()
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('1 c a\n2 c b\n3 c c\n4 C d\n5 c e\n6 D a\n7 c f\n')
  })

  it('held records nobody flushes are written at the end of the event-loop turn', async () => {
    const b = await Binlog.open({ dir: tmpDir('binlogheldturn') })
    b.appendHeld('1 c a')
    const woke = b.waitForAppend({ index: 0, offset: 0 }, 5_000)
    await new Promise((r) => setImmediate(r))
    await woke
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('1 c a\n')
    expect(b.heldRecords).toBe(0)
    await b.close()
  })

  it('near the rotation size a held record is written at once, and rotation stays exact', async () => {
    const dir = tmpDir('binlogheldrot')
    const b = await Binlog.open({ dir, rotateBytes: 20 })
    const all = Array.from({ length: 12 }, (_, i) => `${i} c f${i}`)
    for (const r of all) b.appendHeld(r)
    b.flushHeld()
    expect(b.end().index).toBeGreaterThan(0)
    const got: string[] = []
    let pos = { index: 0, offset: 0 }
    for (;;) {
      const r = await b.read(pos, 100)
      if (!r.records.length) break
      got.push(...r.records)
      pos = r.next
    }
    expect(got).toEqual(all)
    await b.close()
  })

  it('appendHeld refuses newlines and a binlog in fsync mode', async () => {
    const b = await Binlog.open({ dir: tmpDir('binlogheldbad') })
    expect(() => b.appendHeld('1 c a\n2 c b')).toThrow(/newline/)
    await b.close()
    const f = await Binlog.open({ dir: tmpDir('binlogheldfs'), fsync: true })
    expect(() => f.appendHeld('1 c a')).toThrow(/synchronously/)
    await f.close()
  })

  it('a failed write of held records keeps them, stops synchronous appends, and the next append writes them first', async () => {
    const dir = tmpDir('binlogheldfail')
    const b = await Binlog.open({ dir })
    b.appendHeld('1 c a')
    b.appendHeld('2 c b')
    const internals = b as unknown as { fd: number }
    const fd = internals.fd
    internals.fd = 987654 // not open: write(2) fails with EBADF
    expect(() => b.flushHeld()).toThrow(expect.objectContaining({ code: 'EBADF' }))
    expect(b.heldRecords).toBe(2)
    expect(b.canAppendNow()).toBe(false)
    expect(b.end()).toEqual({ index: 0, offset: 0 })
    internals.fd = fd
    // The async path retries the held records before its own.
    await b.append('3 D a')
    expect(readFileSync(b.fileName(0), 'utf8')).toBe('1 c a\n2 c b\n3 D a\n')
    expect(b.canAppendNow()).toBe(true)
    expect(b.heldRecords).toBe(0)
    await b.close()
  })
})
