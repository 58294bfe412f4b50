import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { STORAGE_STATUS } from '../../../src/personalities/fastdfs/protocol/constants.js'
import { encodeJoin, JOIN_FIXED_SIZE, parseJoin } from '../../../src/personalities/fastdfs/tracker/join-body.js'
import { loadState, StateSaver, stateFile } from '../../../src/personalities/fastdfs/tracker/persist.js'
import { StorageNode, TrackerState } from '../../../src/personalities/fastdfs/tracker/state.js'

function node(st: TrackerState, ip: string, port: number, status: number): StorageNode {
  const g = st.ensureGroup('group1')
  const s = new StorageNode(`${ip}:${port}`, ip, ip, port, 'group1')
  s.status = status
  g.storages.set(s.key, s)
  return s
}

describe('offline detection (checkActive with an explicit clock)', () => {
  it('marks a storage OFFLINE after ~3 of its own heartbeat intervals (floor 5 s, cap check_active_interval)', () => {
    const st = new TrackerState()
    const fast = node(st, '10.0.0.1', 1, STORAGE_STATUS.ACTIVE)
    fast.beatIntervalMs = 2000
    fast.lastHeardMs = 1_000_000
    const slow = node(st, '10.0.0.2', 1, STORAGE_STATUS.ACTIVE)
    slow.beatIntervalMs = 30_000
    slow.lastHeardMs = 1_000_000
    const g = st.group('group1')!
    const before = g.chgCount
    expect(st.checkActive(1_000_000 + 5_500, 120)).toEqual([])
    expect(st.checkActive(1_000_000 + 6_500, 120)).toEqual([fast])
    expect(fast.status).toBe(STORAGE_STATUS.OFFLINE)
    expect(fast.statusReason).toMatch(/no heartbeat for 7s/)
    expect(g.chgCount).toBe(before + 1)
    expect(st.checkActive(1_000_000 + 89_000, 120)).toEqual([])
    expect(st.checkActive(1_000_000 + 91_000, 120)).toEqual([slow])
    // bootstrap states are never timed out
    const w = node(st, '10.0.0.3', 1, STORAGE_STATUS.WAIT_SYNC)
    w.lastHeardMs = 1
    expect(st.checkActive(10_000_000, 120)).toEqual([])
  })

  it('groups key storages by ip:port: two on one IP stay two, sorted by id then port', () => {
    const st = new TrackerState()
    node(st, '127.0.0.1', 33001, STORAGE_STATUS.ACTIVE)
    node(st, '127.0.0.1', 33000, STORAGE_STATUS.ACTIVE)
    const g = st.group('group1')!
    expect(g.sorted().map((s) => s.port)).toEqual([33000, 33001])
    expect(g.port).toBe(-1)
    expect(g.byWireId('127.0.0.1', 33001)?.port).toBe(33001)
  })
})

describe('persisted state', () => {
  it('round-trips groups and storages; ONLINE/ACTIVE come back OFFLINE, WAIT_SYNC stays', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'tstate-'))
    const st = new TrackerState()
    const saver = new StateSaver(st, base)
    const a = node(st, '10.0.0.1', 23000, STORAGE_STATUS.ACTIVE)
    a.stats.longs[0] = 42
    a.synced.set('10.0.0.2', 1234)
    a.pathTotalMb = [1000]
    a.pathFreeMb = [600]
    const b = node(st, '10.0.0.2', 23000, STORAGE_STATUS.WAIT_SYNC)
    b.srcId = '10.0.0.1'
    st.group('group1')!.storePathCount = 1
    await saver.flush()
    const text = readFileSync(stateFile(base), 'utf8')
    expect(JSON.parse(text).groups[0].storages).toHaveLength(2)
    const back = loadState(base)
    const g = back.group('group1')!
    expect(g.storePathCount).toBe(1)
    const a2 = g.storages.get('10.0.0.1:23000')!
    expect(a2.status).toBe(STORAGE_STATUS.OFFLINE)
    expect(a2.statusReason).toMatch(/tracker restarted/)
    expect(a2.stats.longs[0]).toBe(42)
    expect(a2.synced.get('10.0.0.2')).toBe(1234)
    expect([a2.totalMb, a2.freeMb]).toEqual([1000, 600])
    const b2 = g.storages.get('10.0.0.2:23000')!
    expect([b2.status, b2.srcId]).toEqual([STORAGE_STATUS.WAIT_SYNC, '10.0.0.1'])
  })

  it('an absent file is an empty cluster; a corrupt one refuses to load', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'tstate-'))
    expect(loadState(base).groups.size).toBe(0)
    mkdirSync(path.join(base, 'data'), { recursive: true })
    writeFileSync(stateFile(base), '{"groups": [')
    expect(() => loadState(base)).toThrow(/corrupt/)
  })
})

describe('STORAGE_JOIN body', () => {
  const j = {
    group: 'group1', port: 33000, storePathCount: 2, subdirCount: 256, uploadPriority: 10, joinTime: 1795318659, upTime: 1795318660,
    version: '6.16.1', initFlag: true, status: 0, storageId: '100001', currentTrackerIp: '127.0.0.10', trackers: ['127.0.0.10:32122', '127.0.0.13:32122'],
  }
  it('round-trips the 145-byte fixed part plus tracker lines', () => {
    const b = encodeJoin(j)
    expect(b.length).toBe(JOIN_FIXED_SIZE + '127.0.0.10:32122\n127.0.0.13:32122\n'.length)
    expect(parseJoin(b)).toEqual(j)
  })
  it('rejects bad counts, ports, groups and missing lines with EINVAL', () => {
    const bad = (o: Partial<typeof j>) => parseJoin(encodeJoin({ ...j, ...o }))
    expect(bad({ port: 0 })).toMatchObject({ errno: 22 })
    expect(bad({ storePathCount: 300 })).toMatchObject({ errno: 22 })
    expect(bad({ subdirCount: 0 })).toMatchObject({ errno: 22 })
    expect(bad({ group: 'a b' })).toMatchObject({ errno: 22 })
    expect(bad({ trackers: [] })).toMatchObject({ errno: 22 })
    const noNl = encodeJoin(j).subarray(0, JOIN_FIXED_SIZE + 5)
    expect(parseJoin(noNl)).toMatchObject({ errno: 22 })
    expect(parseJoin(Buffer.alloc(100))).toMatchObject({ errno: 22 })
  })
})

describe('GroupNode member lists (cached between changes)', () => {
  it('follow joins, removals, status, rw mode and port changes', () => {
    const st = new TrackerState()
    const b = node(st, '10.0.0.2', 23000, STORAGE_STATUS.ACTIVE)
    const a = node(st, '10.0.0.1', 23000, STORAGE_STATUS.ACTIVE)
    const g = st.group('group1')!
    expect(g.sorted()).toEqual([a, b])
    expect(g.writable()).toEqual([a, b])
    expect(g.sorted()).toBe(g.sorted()) // unchanged: the same list
    a.status = STORAGE_STATUS.OFFLINE
    expect(g.writable()).toEqual([b])
    expect(g.readable()).toEqual([b])
    a.status = STORAGE_STATUS.ACTIVE
    a.rwMode = 4 // RW_MODE.READ: read only
    expect(g.writable()).toEqual([b])
    expect(g.readable()).toEqual([a, b])
    const c = node(st, '10.0.0.0', 23000, STORAGE_STATUS.ACTIVE)
    expect(g.sorted()).toEqual([c, a, b])
    g.storages.delete(c.key)
    expect(g.sorted()).toEqual([a, b])
    // Same size, different member: a replaced entry is noticed too.
    g.storages.delete(b.key)
    const d = node(st, '10.0.0.9', 23000, STORAGE_STATUS.ACTIVE)
    expect(g.sorted()).toEqual([a, d])
    // Same id, ports decide the order.
    const e = node(st, '10.0.0.9', 22000, STORAGE_STATUS.ACTIVE)
    expect(g.sorted()).toEqual([a, e, d])
    e.port = 24000
    expect(g.sorted()).toEqual([a, d, e])
  })
})
