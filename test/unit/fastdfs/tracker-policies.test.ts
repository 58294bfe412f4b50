import { describe, expect, it } from 'vitest'
import { ConfFile } from '../../../src/config/conf-file.js'
import { encodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { STORAGE_STATUS } from '../../../src/personalities/fastdfs/protocol/constants.js'
import { knownToHave, pickFetch, pickStoreGroup, pickStorePath, pickStoreServer, pickUpdate } from '../../../src/personalities/fastdfs/tracker/policies.js'
import { StorageNode, TrackerState } from '../../../src/personalities/fastdfs/tracker/state.js'
import { trackerConfFrom } from '../../../src/personalities/fastdfs/tracker/tracker-conf.js'

const conf = (extra = '') => trackerConfFrom(ConfFile.parse(`base_path = /tmp/x\nreserved_storage_space = 10%\n${extra}`))

function cluster(spec: Record<string, Array<{ ip: string; port?: number; free: number; total?: number; status?: number; prio?: number }>>): TrackerState {
  const st = new TrackerState()
  for (const [name, list] of Object.entries(spec)) {
    const g = st.ensureGroup(name)
    g.storePathCount = 1
    g.subdirCount = 256
    for (const s of list) {
      const n = new StorageNode(`${s.ip}:${s.port ?? 23000}`, s.ip, s.ip, s.port ?? 23000, name)
      n.status = s.status ?? STORAGE_STATUS.ACTIVE
      n.totalMb = s.total ?? 1000
      n.freeMb = s.free
      n.pathTotalMb = [n.totalMb]
      n.pathFreeMb = [s.free]
      n.uploadPriority = s.prio ?? 10
      g.storages.set(n.key, n)
    }
  }
  return st
}

const name = (ip: string, ts: number, opts: { appender?: boolean } = {}) =>
  encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: ip, timestamp: ts, size: 10, crc32: 1, ext: 'bin', appender: opts.appender, random: () => 0.5 })

describe('store_lookup', () => {
  const st = () => cluster({ group1: [{ ip: '10.0.0.1', free: 300 }], group2: [{ ip: '10.0.0.2', free: 800 }], group3: [{ ip: '10.0.0.3', free: 50 }] })
  it('2 = load balance: the writable group with the most free space', () => {
    const r = pickStoreGroup(st(), conf())
    expect('ok' in r && r.ok.name).toBe('group2')
  })
  it('0 = round robin over groups, skipping groups below the reserved space', () => {
    const s = st()
    const c = conf('store_lookup = 0')
    const seq = [1, 2, 3, 4].map(() => {
      const r = pickStoreGroup(s, c)
      return 'ok' in r ? r.ok.name : r.errno
    })
    expect(seq).toEqual(['group1', 'group2', 'group1', 'group2'])
  })
  it('1 = the configured group; ENOENT when it has no writable storage', () => {
    const r = pickStoreGroup(st(), conf('store_lookup = 1\nstore_group = group1'))
    expect('ok' in r && r.ok.name).toBe('group1')
    const r2 = pickStoreGroup(st(), conf('store_lookup = 1\nstore_group = nogroup'))
    expect(r2).toEqual({ errno: 2 })
  })
  it('a requested group below the reserved space is ENOSPC, an unknown one ENOENT', () => {
    expect(pickStoreGroup(st(), conf(), 'group3')).toEqual({ errno: 28 })
    expect(pickStoreGroup(st(), conf(), 'zzz')).toEqual({ errno: 2 })
    expect(pickStoreGroup(new TrackerState(), conf())).toEqual({ errno: 2 })
  })
  it('OFFLINE storages make a group unwritable', () => {
    const s = cluster({ group1: [{ ip: '10.0.0.1', free: 300, status: STORAGE_STATUS.OFFLINE }] })
    expect(pickStoreGroup(s, conf())).toEqual({ errno: 2 })
  })
})

describe('store_server and store_path', () => {
  const st = () => cluster({ group1: [{ ip: '10.0.0.2', free: 300, prio: 5 }, { ip: '10.0.0.1', free: 500, prio: 20 }, { ip: '10.0.0.3', free: 500, status: STORAGE_STATUS.OFFLINE }] })
  it('0 = round robin over writable storages in sorted order', () => {
    const g = st().group('group1')!
    const c = conf()
    expect([1, 2, 3].map(() => pickStoreServer(c, g)!.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1'])
  })
  it('1 = first by ip, 2 = lowest upload priority', () => {
    expect(pickStoreServer(conf('store_server = 1'), st().group('group1')!)!.ip).toBe('10.0.0.1')
    expect(pickStoreServer(conf('store_server = 2'), st().group('group1')!)!.ip).toBe('10.0.0.2')
  })
  it('store_path 0 rotates, 2 takes the freest path, full paths are skipped', () => {
    const s = st().group('group1')!.sorted()[0]
    s.pathTotalMb = [1000, 1000, 1000]
    s.pathFreeMb = [500, 50, 700]
    const rr = conf()
    expect([1, 2, 3].map(() => pickStorePath(rr, s, 3))).toEqual([0, 2, 0])
    expect(pickStorePath(conf('store_path = 2'), s, 3)).toBe(2)
    s.pathFreeMb = [1, 1, 1]
    expect(pickStorePath(rr, s, 3)).toBeUndefined()
  })
})

describe('download_server and the "known to have the file" rule', () => {
  const now = 2_000_000_000
  const st = () => cluster({ group1: [{ ip: '10.0.0.1', free: 500 }, { ip: '10.0.0.2', free: 500 }] })
  it('a fresh file is served only by its source until the peer reports a newer sync', () => {
    const s = st()
    const g = s.group('group1')!
    const remote = name('10.0.0.2', now - 5)
    const c = conf()
    for (let i = 0; i < 3; i++) {
      const r = pickFetch(c, g, remote, false, now)
      expect('ok' in r && r.ok[0].ip).toBe('10.0.0.2')
    }
    const all = pickFetch(c, g, remote, true, now)
    expect('ok' in all && all.ok.map((x) => x.ip)).toEqual(['10.0.0.2'])
    g.storages.get('10.0.0.1:23000')!.synced.set('10.0.0.2', now - 1)
    const all2 = pickFetch(c, g, remote, true, now)
    expect('ok' in all2 && all2.ok.map((x) => x.ip)).toEqual(['10.0.0.1', '10.0.0.2'])
  })
  it('files older than storage_sync_file_max_delay are on every storage; round robin spreads reads', () => {
    const s = st()
    const g = s.group('group1')!
    const remote = name('10.0.0.2', now - 2 * 86400)
    const c = conf()
    const ips = [1, 2, 3, 4].map(() => {
      const r = pickFetch(c, g, remote, false, now)
      return 'ok' in r ? r.ok[0].ip : ''
    })
    expect(ips).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.2'])
  })
  it('synced == ts counts once the file is older than storage_sync_file_max_time', () => {
    const s = st().group('group1')!.storages.get('10.0.0.1:23000')!
    s.synced.set('10.0.0.2', now - 400)
    const r = { source: '10.0.0.2', timestamp: now - 400, sourceOnly: false }
    expect(knownToHave(conf(), s, r, now)).toBe(true)
    expect(knownToHave(conf(), s, { ...r, timestamp: now - 100 }, now)).toBe(false)
  })
  it('download_server 1 = source first; appender files always go to the source', () => {
    const g = st().group('group1')!
    const old = name('10.0.0.2', now - 3 * 86400)
    const r = pickFetch(conf('download_server = 1'), g, old, false, now)
    expect('ok' in r && r.ok[0].ip).toBe('10.0.0.2')
    const app = name('10.0.0.2', now - 3 * 86400, { appender: true })
    for (let i = 0; i < 2; i++) {
      const a = pickFetch(conf(), g, app, false, now)
      expect('ok' in a && a.ok[0].ip).toBe('10.0.0.2')
    }
  })
  it('QUERY_UPDATE goes to the source while it is writable, else to any writable storage', () => {
    const s = st()
    const g = s.group('group1')!
    const remote = name('10.0.0.2', now)
    const u = pickUpdate(conf(), g, remote)
    expect('ok' in u && u.ok.ip).toBe('10.0.0.2')
    g.storages.get('10.0.0.2:23000')!.status = STORAGE_STATUS.OFFLINE
    const u2 = pickUpdate(conf(), g, remote)
    expect('ok' in u2 && u2.ok.ip).toBe('10.0.0.1')
  })
  it('an undecodable name is EINVAL, a group without readable storage ENOENT', () => {
    const g = st().group('group1')!
    expect(pickFetch(conf(), g, 'M00/00/00/not-a-name', false, now)).toEqual({ errno: 22 })
    for (const s of g.storages.values()) s.status = STORAGE_STATUS.OFFLINE
    expect(pickFetch(conf(), g, name('10.0.0.1', now), false, now)).toEqual({ errno: 2 })
  })
})
