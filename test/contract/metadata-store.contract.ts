/**
 * MetadataStore contract: the same behaviour on every backend (SQLite and
 * MariaDB). Call `metadataStoreContract(name, open)` from a test file; `open`
 * returns a freshly migrated, empty store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MetadataStore, DuplicateError } from '../../src/personalities/mogilefs/db/store.js'
import { FidInUseError, TempfileGoneError } from '../../src/personalities/mogilefs/db/file-store.js'
import { NEXTTRY_NEVER, unixNow } from '../../src/personalities/mogilefs/db/types.js'

export function metadataStoreContract(name: string, open: () => Promise<{ store: MetadataStore; second: () => Promise<MetadataStore>; cleanup: () => Promise<void> }>): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let s: MetadataStore
    let second: () => Promise<MetadataStore>
    let cleanup: () => Promise<void>
    let dmid: number

    beforeAll(async () => {
      ;({ store: s, second, cleanup } = await open())
      dmid = await s.createDomain('dom1')
    })
    afterAll(async () => {
      await s?.close()
      await cleanup?.()
    })

    it('records schema version 17 and migrating again is a no-op', async () => {
      expect(await s.setting('schema_version')).toBe('17')
      const again = await second()
      expect(await again.setting('schema_version')).toBe('17')
      await again.close()
    })

    it('allocates domain, class and host ids as MAX+1 and refuses duplicates', async () => {
      const d2 = await s.createDomain('dom2')
      expect(d2).toBe(dmid + 1)
      await expect(s.createDomain('dom2')).rejects.toBeInstanceOf(DuplicateError)
      expect(await s.createClass({ dmid, classname: 'two', mindevcount: 2, hashtype: null, replpolicy: null })).toBe(1)
      expect(await s.createClass({ dmid, classname: 'md5', mindevcount: 2, hashtype: 1, replpolicy: 'MultipleHosts(2)' })).toBe(2)
      await expect(s.createClass({ dmid, classname: 'two', mindevcount: 1, hashtype: null, replpolicy: null })).rejects.toBeInstanceOf(DuplicateError)
      const h1 = await s.createHost({ hostname: 'h1', hostip: '127.0.0.1', http_port: 7500, http_get_port: null, altip: null, altmask: null, status: 'alive' })
      await expect(s.createHost({ hostname: 'h2', hostip: '127.0.0.1', http_port: 7500, http_get_port: null, altip: null, altmask: null, status: 'alive' })).rejects.toBeInstanceOf(DuplicateError)
      await s.createDevice({ devid: 1, hostid: h1, status: 'alive' })
      await expect(s.createDevice({ devid: 1, hostid: h1, status: 'alive' })).rejects.toBeInstanceOf(DuplicateError)
      expect((await s.devices())[0]).toMatchObject({ devid: 1, weight: 100, status: 'alive' })
    })

    it('stores keys faithfully: metacharacters, newlines, NUL, non-ASCII', async () => {
      const keys = ["a'b\"c;--", 'x%_y\\z', 'line1\nline2', 'nul\u0000byte', 'żółw/日本', 'k'.repeat(255)]
      for (const key of keys) {
        const fid = await s.files.createTempfile({ dmid, dkey: key, classid: 1, devids: [1] })
        expect(await s.files.takeTempfile(fid)).toMatchObject({ fid, dkey: key })
        await s.files.commit({ fid, dmid, dkey: key, length: 3, classid: 1, devid: 1 })
        expect((await s.files.byKey(dmid, key))?.fid).toBe(fid)
      }
      expect(await s.files.listKeys(dmid, 'x%_', undefined, 10, false)).toEqual(['x%_y\\z'])
      expect(await s.files.listKeys(dmid, 'x', undefined, 10, false)).toEqual(['x%_y\\z'])
      for (const key of keys) expect(await s.files.deleteKey(dmid, key)).toBeGreaterThan(0)
    })

    it('keys are case-insensitive on every backend', async () => {
      const fid = await s.files.createTempfile({ dmid, dkey: 'CaseKey', classid: 0, devids: [1] })
      await s.files.takeTempfile(fid)
      await s.files.commit({ fid, dmid, dkey: 'CaseKey', length: 1, classid: 0, devid: 1 })
      expect((await s.files.byKey(dmid, 'casekey'))?.fid).toBe(fid)
      expect(await s.files.listKeys(dmid, 'case', undefined, 10, false)).toEqual(['CaseKey'])
      expect(await s.files.listKeys(dmid, 'case', undefined, 10, true)).toEqual([])
      await s.files.deleteKey(dmid, 'CASEKEY')
      expect(await s.files.byKey(dmid, 'CaseKey')).toBeUndefined()
    })

    it('takes a tempfile exactly once and refuses an explicit fid in use', async () => {
      const fid = await s.files.createTempfile({ dmid, dkey: 't', classid: 0, devids: [1, 2] })
      const [a, b] = await Promise.all([s.files.takeTempfile(fid), s.files.takeTempfile(fid)])
      expect([a, b].filter(Boolean)).toHaveLength(1)
      await s.files.commit({ fid, dmid, dkey: 't', length: 1, classid: 0, devid: 1 })
      await expect(s.files.createTempfile({ fid, dmid, dkey: 'u', classid: 0, devids: [1] })).rejects.toBeInstanceOf(FidInUseError)
    })

    it('overwriting a key maps it to the new fid and queues the old one for delete', async () => {
      const old = (await s.files.byKey(dmid, 't'))!.fid
      const fid = await s.files.createTempfile({ dmid, dkey: 't', classid: 0, devids: [1] })
      await s.files.takeTempfile(fid)
      const r = await s.files.commit({ fid, dmid, dkey: 't', length: 9, classid: 0, devid: 1, checksum: { hashtype: 1, digest: Buffer.alloc(16, 7) } })
      expect(r.oldFid).toBe(old)
      expect((await s.files.byKey(dmid, 't'))?.fid).toBe(fid)
      expect(await s.files.byFid(old)).toBeUndefined()
      expect(await s.k('file_to_delete2').where({ fid: old }).first()).toBeTruthy()
      expect((await s.files.checksum(fid))?.digest).toEqual(Buffer.alloc(16, 7))
    })

    it('create_close commit consumes the tempfile once, overwrites, and leases replication', async () => {
      const first = await s.files.createTempfile({ dmid, dkey: 'cc', classid: 0, devids: [1, 2] })
      expect((await s.files.tempfile(first))?.devids).toBe('1,2')
      expect(await s.files.commit({ fid: first, dmid, dkey: 'cc', length: 4, classid: 0, devid: 1, consumeTempfile: true, replicateLease: 120 })).toEqual({ oldFid: undefined })
      expect(await s.files.tempfile(first)).toBeUndefined()
      const rep = await s.k('file_to_replicate').where({ fid: first }).first()
      expect(Number(rep.nexttry)).toBeGreaterThan(unixNow() + 60)
      // A second close of the same fid finds no tempfile row and changes nothing.
      await expect(s.files.commit({ fid: first, dmid, dkey: 'other-key', length: 4, classid: 0, devid: 2, consumeTempfile: true })).rejects.toBeInstanceOf(TempfileGoneError)
      expect(await s.files.byKey(dmid, 'other-key')).toBeUndefined()
      expect(await s.files.devids(first)).toEqual([1])
      const second = await s.files.createTempfile({ dmid, dkey: 'cc', classid: 0, devids: [2] })
      const r = await s.files.commit({ fid: second, dmid, dkey: 'cc', length: 5, classid: 0, devid: 2, consumeTempfile: true, noReplication: true, checksum: { hashtype: 1, digest: Buffer.alloc(16, 3) } })
      expect(r.oldFid).toBe(first)
      expect(Number((await s.files.byKey(dmid, 'cc'))?.length)).toBe(5)
      expect(await s.k('file_to_delete2').where({ fid: first }).first()).toBeTruthy()
      expect(await s.k('file_to_replicate').where({ fid: second }).first()).toBeUndefined()
      expect((await s.files.checksum(second))?.digest).toEqual(Buffer.alloc(16, 3))
    })

    it('recordCopy counts copies, drops the queue row when done, and queues a vanished fid for delete', async () => {
      const fid = await s.files.createTempfile({ dmid, dkey: 'rc', classid: 0, devids: [1] })
      await s.files.commit({ fid, dmid, dkey: 'rc', length: 1, classid: 0, devid: 1, consumeTempfile: true })
      expect(await s.files.recordCopy(fid, 2, false)).toBe(2)
      expect(await s.k('file_to_replicate').where({ fid }).first()).toBeTruthy()
      expect(await s.files.recordCopy(fid, 3, true)).toBe(3)
      expect(Number((await s.files.byFid(fid))?.devcount)).toBe(3)
      const withDevs = await s.files.byKeyWithDevids(dmid, 'RC')
      expect(Number(withDevs?.file.fid)).toBe(fid)
      expect(withDevs?.devids).toEqual([1, 2, 3])
      expect(await s.files.byKeyWithDevids(dmid, 'no-such-key')).toBeUndefined()
      expect(await s.k('file_to_replicate').where({ fid }).first()).toBeUndefined()
      const gone = await s.files.createTempfile({ dmid, dkey: 'rc2', classid: 0, devids: [1] })
      await s.files.commit({ fid: gone, dmid, dkey: 'rc2', length: 1, classid: 0, devid: 1, consumeTempfile: true })
      await s.files.deleteKey(dmid, 'rc2')
      await s.k('file_to_delete2').where({ fid: gone }).delete()
      expect(await s.files.recordCopy(gone, 2, true)).toBe('gone')
      expect(await s.k('file_to_delete2').where({ fid: gone }).first()).toBeTruthy()
      expect(await s.files.devids(gone)).toEqual([1, 2])
    })

    it('commit of a new key writes exactly the file, file_on, checksum and due replication rows', async () => {
      const fid = await s.files.createTempfile({ dmid, dkey: 'fp-new', classid: 1, devids: [1, 2] })
      expect(await s.files.commit({ fid, dmid, dkey: 'fp-new', length: 1234, classid: 1, devid: 2, consumeTempfile: true, checksum: { hashtype: 1, digest: Buffer.alloc(16, 9) } })).toEqual({ oldFid: undefined })
      const row = await s.files.byFid(fid)
      expect({ ...row, fid: Number(row?.fid), length: Number(row?.length), devcount: Number(row?.devcount), classid: Number(row?.classid) }).toMatchObject({ fid, dmid, dkey: 'fp-new', length: 1234, classid: 1, devcount: 1 })
      expect(await s.files.tempfile(fid)).toBeUndefined()
      expect(await s.files.devids(fid)).toEqual([2])
      expect(await s.files.checksum(fid)).toEqual({ hashtype: 1, digest: Buffer.alloc(16, 9) })
      const rep = await s.k('file_to_replicate').where({ fid }).first()
      expect(Number(rep?.nexttry)).toBe(0)
      expect(await s.k('file_to_delete2').where({ fid }).first()).toBeUndefined()
      // Without consumeTempfile (no tempfile row involved) and with noReplication.
      const bare = await s.files.createTempfile({ dmid, dkey: 'fp-bare', classid: 0, devids: [1] })
      await s.files.takeTempfile(bare)
      expect(await s.files.commit({ fid: bare, dmid, dkey: 'fp-bare', length: 1, classid: 0, devid: 1, noReplication: true })).toEqual({ oldFid: undefined })
      expect(Number((await s.files.byKey(dmid, 'fp-bare'))?.fid)).toBe(bare)
      expect(await s.k('file_to_replicate').where({ fid: bare }).first()).toBeUndefined()
      expect(await s.files.checksum(bare)).toBeUndefined()
    })

    it('a close whose tempfile row is gone changes nothing, with or without a file row for the fid', async () => {
      // Second close of a committed fid whose replication already finished: no file_on, checksum or queue row may come back.
      const fid = await s.files.createTempfile({ dmid, dkey: 'fp-twice', classid: 0, devids: [1, 2] })
      await s.files.commit({ fid, dmid, dkey: 'fp-twice', length: 7, classid: 0, devid: 1, consumeTempfile: true, checksum: { hashtype: 1, digest: Buffer.alloc(16, 1) } })
      expect(await s.files.recordCopy(fid, 2, true)).toBe(2)
      await expect(s.files.commit({ fid, dmid, dkey: 'fp-twice', length: 8, classid: 0, devid: 3, consumeTempfile: true, checksum: { hashtype: 1, digest: Buffer.alloc(16, 2) } })).rejects.toBeInstanceOf(TempfileGoneError)
      await expect(s.files.commit({ fid, dmid, dkey: 'fp-twice-other', length: 8, classid: 0, devid: 3, consumeTempfile: true })).rejects.toBeInstanceOf(TempfileGoneError)
      expect(Number((await s.files.byKey(dmid, 'fp-twice'))?.length)).toBe(7)
      expect(await s.files.byKey(dmid, 'fp-twice-other')).toBeUndefined()
      expect(await s.files.devids(fid)).toEqual([1, 2])
      expect((await s.files.checksum(fid))?.digest).toEqual(Buffer.alloc(16, 1))
      expect(await s.k('file_to_replicate').where({ fid }).first()).toBeUndefined()
      expect(await s.k('file_to_delete2').where({ fid }).first()).toBeUndefined()
      // A discarded fid (no file row, tempfile consumed): the late close maps nothing.
      const lost = await s.files.createTempfile({ dmid, dkey: 'fp-lost', classid: 0, devids: [1] })
      expect(await s.files.discardFid(lost, [], true)).toBe(true)
      await expect(s.files.commit({ fid: lost, dmid, dkey: 'fp-lost', length: 1, classid: 0, devid: 1, consumeTempfile: true, checksum: { hashtype: 1, digest: Buffer.alloc(16, 4) } })).rejects.toBeInstanceOf(TempfileGoneError)
      expect(await s.files.byKey(dmid, 'fp-lost')).toBeUndefined()
      expect(await s.files.byFid(lost)).toBeUndefined()
      expect(await s.files.devids(lost)).toEqual([])
      expect(await s.files.checksum(lost)).toBeUndefined()
      expect(await s.k('file_to_replicate').where({ fid: lost }).first()).toBeUndefined()
    })

    it('replacing a key through create_close queues the old fid and leaves the new one complete', async () => {
      const a = await s.files.createTempfile({ dmid, dkey: 'fp-rep', classid: 0, devids: [1] })
      await s.files.commit({ fid: a, dmid, dkey: 'fp-rep', length: 1, classid: 0, devid: 1, consumeTempfile: true })
      const b = await s.files.createTempfile({ dmid, dkey: 'FP-REP', classid: 0, devids: [2] })
      expect(await s.files.commit({ fid: b, dmid, dkey: 'FP-REP', length: 2, classid: 0, devid: 2, consumeTempfile: true, replicateLease: 300 })).toEqual({ oldFid: a })
      expect(Number((await s.files.byKey(dmid, 'fp-rep'))?.fid)).toBe(b)
      expect(await s.files.byFid(a)).toBeUndefined()
      expect(await s.k('file_to_delete2').where({ fid: a }).first()).toBeTruthy()
      expect(await s.files.tempfile(b)).toBeUndefined()
      expect(await s.files.devids(b)).toEqual([2])
      expect(Number((await s.k('file_to_replicate').where({ fid: b }).first())?.nexttry)).toBeGreaterThan(unixNow() + 200)
      // Re-committing a fid under another key (no tempfile) moves it: the fid keeps one row.
      expect(await s.files.commit({ fid: b, dmid, dkey: 'fp-rep-moved', length: 3, classid: 0, devid: 2 })).toEqual({ oldFid: undefined })
      expect(await s.files.byKey(dmid, 'fp-rep')).toBeUndefined()
      expect(Number((await s.files.byKey(dmid, 'fp-rep-moved'))?.fid)).toBe(b)
      expect(await s.k('file_to_delete2').where({ fid: b }).first()).toBeUndefined()
    })

    it('concurrent closes: one fid closed twice, one key closed by two fids, a close racing discardFid', async () => {
      const fid = await s.files.createTempfile({ dmid, dkey: 'fp-race', classid: 0, devids: [1, 2] })
      const twice = await Promise.allSettled([1, 2].map((devid) => s.files.commit({ fid, dmid, dkey: 'fp-race', length: 1, classid: 0, devid, consumeTempfile: true })))
      expect(twice.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      expect(twice.filter((r) => r.status === 'rejected' && r.reason instanceof TempfileGoneError)).toHaveLength(1)
      expect(await s.files.devids(fid)).toHaveLength(1)
      const fids = [await s.files.createTempfile({ dmid, dkey: 'fp-same', classid: 0, devids: [1] }), await s.files.createTempfile({ dmid, dkey: 'fp-same', classid: 0, devids: [1] })]
      const res = await Promise.all(fids.map((f) => s.files.commit({ fid: f, dmid, dkey: 'fp-same', length: 1, classid: 0, devid: 1, consumeTempfile: true })))
      const winner = Number((await s.files.byKey(dmid, 'fp-same'))?.fid)
      const loser = fids.find((f) => f !== winner)!
      expect(fids).toContain(winner)
      expect(res.map((r) => r.oldFid).filter(Boolean)).toEqual([loser])
      expect(await s.k('file_to_delete2').where({ fid: loser }).first()).toBeTruthy()
      for (let i = 0; i < 5; i++) {
        const t = await s.files.createTempfile({ dmid, dkey: `fp-discard-${i}`, classid: 0, devids: [1] })
        const [c, d] = await Promise.allSettled([s.files.commit({ fid: t, dmid, dkey: `fp-discard-${i}`, length: 1, classid: 0, devid: 1, consumeTempfile: true }), s.files.discardFid(t, [1], true)])
        const committed = c.status === 'fulfilled'
        if (!committed) expect((c as PromiseRejectedResult).reason).toBeInstanceOf(TempfileGoneError)
        expect(d).toEqual({ status: 'fulfilled', value: !committed })
        expect(!!(await s.files.byFid(t))).toBe(committed)
        expect(!!(await s.k('file_to_delete2').where({ fid: t }).first())).toBe(!committed)
      }
    })

    it('recordCopy: idempotent per device, done=false keeps the queue row, a vanished file drops it', async () => {
      const fid = await s.files.createTempfile({ dmid, dkey: 'fp-rc', classid: 0, devids: [1] })
      await s.files.commit({ fid, dmid, dkey: 'fp-rc', length: 1, classid: 0, devid: 1, consumeTempfile: true })
      expect(await s.files.recordCopy(fid, 2, false)).toBe(2)
      expect(await s.files.recordCopy(fid, 2, false)).toBe(2)
      expect(Number((await s.files.byFid(fid))?.devcount)).toBe(2)
      expect(await s.k('file_to_replicate').where({ fid }).first()).toBeTruthy()
      expect(await s.k('file_to_delete2').where({ fid }).first()).toBeUndefined()
      await s.files.deleteKey(dmid, 'fp-rc')
      await s.k('file_to_delete2').where({ fid }).delete()
      await s.queues.enqueueReplicate(fid, 0)
      expect(await s.files.recordCopy(fid, 3, false)).toBe('gone')
      expect(await s.k('file_to_replicate').where({ fid }).first()).toBeUndefined()
      expect(await s.k('file_to_delete2').where({ fid }).first()).toBeTruthy()
      expect(await s.files.devids(fid)).toEqual([1, 2, 3])
      expect(await s.files.recordCopy(fid, 3, true)).toBe('gone')
    })

    it('rename: ok, unknown_key, key_exists', async () => {
      expect(await s.files.rename(dmid, 't', 't2')).toBe('ok')
      expect(await s.files.rename(dmid, 't', 't3')).toBe('unknown_key')
      const fid = await s.files.createTempfile({ dmid, dkey: 'other', classid: 0, devids: [1] })
      await s.files.takeTempfile(fid)
      await s.files.commit({ fid, dmid, dkey: 'other', length: 1, classid: 0, devid: 1 })
      expect(await s.files.rename(dmid, 'other', 't2')).toBe('key_exists')
    })

    it('queue leases: a claimed row is invisible to a second claimer until done or rescheduled', async () => {
      await s.k('file_to_replicate').delete()
      for (let fid = 1000; fid < 1010; fid++) await s.queues.enqueueReplicate(fid, 0)
      const other = await second()
      try {
        const [a, b] = await Promise.all([s.queues.claim('file_to_replicate', 6, 60), other.queues.claim('file_to_replicate', 6, 60)])
        const all = [...a, ...b].map((r) => r.fid)
        expect(new Set(all).size).toBe(all.length)
        expect(all.length).toBe(10)
        expect(await s.queues.claim('file_to_replicate', 10, 60)).toEqual([])
        expect(await s.queues.claimFid('file_to_replicate', 1000, 60)).toBeUndefined()
        await s.queues.reschedule('file_to_replicate', 1001, unixNow() - 1, 1)
        expect((await s.queues.claim('file_to_replicate', 10, 60)).map((r) => [r.fid, r.failcount])).toEqual([[1001, 1]])
        await s.queues.reschedule('file_to_replicate', 1002, NEXTTRY_NEVER + 5, 1)
        await s.queues.reschedule('file_to_replicate', 1003, unixNow() + 500, 1)
        expect(await s.queues.replicateNow()).toBeGreaterThanOrEqual(1)
        expect((await s.queues.claimFid('file_to_replicate', 1003, 60))?.fid).toBe(1003)
        expect(await s.queues.claimFid('file_to_replicate', 1002, 60)).toBeUndefined()
        for (let fid = 1000; fid < 1010; fid++) await s.queues.done('file_to_replicate', fid)
        expect(await s.queues.depth('file_to_replicate')).toBe(0)
      } finally {
        await other.close()
      }
    })

    it('file_on, devcount, device listing and purge', async () => {
      const fid = 5000
      await s.files.addFileOn(fid, 1)
      await s.files.addFileOn(fid, 2)
      await s.files.addFileOn(fid, 2)
      expect(await s.files.devids(fid)).toEqual([1, 2])
      expect(await s.files.fidsOnDevice(2, 10)).toContain(fid)
      await s.files.discardFid(fid)
      await s.files.purge(fid)
      expect(await s.files.devids(fid)).toEqual([])
      expect(await s.k('file_to_delete2').where({ fid }).first()).toBeUndefined()
    })

    it('settings upsert/delete and fsck log', async () => {
      await s.setSetting('case_sensitive_list_keys', '1')
      await s.setSetting('case_sensitive_list_keys', '0')
      expect(await s.setting('case_sensitive_list_keys')).toBe('0')
      await s.setSetting('case_sensitive_list_keys', undefined)
      expect(await s.setting('case_sensitive_list_keys')).toBeUndefined()
      await s.queues.fsckLog('MISS', 7, 1)
      await s.queues.fsckLog('REPL', 7)
      expect(await s.queues.fsckEvcounts()).toMatchObject({ MISS: 1, REPL: 1 })
      const rows = await s.queues.fsckLogAfter(0)
      expect(rows.map((r) => r.evcode)).toEqual(['MISS', 'REPL'])
      await s.queues.fsckClearLog()
      expect(await s.queues.fsckLogMax()).toBe(0)
    })
  })
}
