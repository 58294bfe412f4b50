/**
 * fdfs_trackerd as a real child process: storage join/beat protocol over raw
 * sockets (from 127.0.0.11 / 127.0.0.12 like the recording deployment),
 * replay of the recorded client requests with reply-shape comparison,
 * bad input, and state surviving a restart.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFixture } from '../../helpers/fixtures.js'
import { freePort, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'
import { groupBuf, joinBody, RawFdfs } from '../../helpers/fdfs-tracker-raw.js'
import { decodeBrief, decodeGroupStat, decodeStorageStats, STATS_BLOCK_SIZE } from '../../../src/personalities/fastdfs/tracker/monitor-codec.js'
import { encodeFileName } from '../../../src/personalities/fastdfs/file-id.js'

const HOST = '127.0.0.1'
let dir: string
let port: number
let tracker: Daemon
const storages: RawFdfs[] = []

function writeConf(): string {
  const file = path.join(dir, 'tracker.conf')
  writeFileSync(file, `# test tracker\nbase_path = ${dir}/base\nbind_addr = ${HOST}\nport = ${port}\nreserved_storage_space = 1%\ncheck_active_interval = 120\nwork_threads = 4\n`)
  return file
}

async function startTracker(): Promise<void> {
  tracker = spawnDaemon('tracker', 'fdfs_trackerd', [writeConf(), '--foreground'], dir)
  await waitForPort(HOST, port)
}

/** Join a raw "storage" from `ip` (port 33000), beat once, report disk usage; returns its joined connection. */
async function joinStorage(ip: string, opts: { group?: string } = {}): Promise<RawFdfs> {
  const c = await RawFdfs.connect(port, HOST, ip)
  const r = await c.call(81, joinBody({ port: 33000, group: opts.group ?? 'group1', currentTrackerIp: HOST, trackers: [`${HOST}:${port}`] }))
  expect(r?.status).toBe(0)
  expect(r?.body.length).toBe(17)
  const stats = Buffer.alloc(STATS_BLOCK_SIZE)
  stats.writeInt32BE(64, 0)
  stats.writeBigInt64BE(5n, 12) // total_upload_count
  expect((await c.call(83, stats))?.status).toBe(0)
  const du = Buffer.alloc(16)
  du.writeBigInt64BE(258019n, 0)
  du.writeBigInt64BE(77539n, 8)
  expect((await c.call(84, du))?.status).toBe(0)
  return c
}

function requests(c2s: Buffer): Array<{ cmd: number; body: Buffer }> {
  const out = []
  for (let off = 0; off < c2s.length; ) {
    const n = Number(c2s.readBigInt64BE(off))
    out.push({ cmd: c2s[off + 8], body: c2s.subarray(off + 10, off + 10 + n) })
    off += 10 + n
  }
  return out
}

function replies(s2c: Buffer): Array<{ status: number; body: Buffer }> {
  const out = []
  for (let off = 0; off < s2c.length; ) {
    const n = Number(s2c.readBigInt64BE(off))
    out.push({ status: s2c[off + 9], body: s2c.subarray(off + 10, off + 10 + n) })
    off += 10 + n
  }
  return out
}

beforeAll(async () => {
  dir = tmpDir('fdfs-tracker')
  mkdirSync(path.join(dir, 'base'), { recursive: true })
  port = await freePort(HOST)
  await startTracker()
})

afterAll(async () => {
  for (const s of storages) s.close()
  await tracker?.stop()
})

describe('fdfs_trackerd: storage protocol', () => {
  it('answers GET_MY_IP, PARAMETER_REQ and CHANGELOG_REQ before a join', async () => {
    const c = await RawFdfs.connect(port, HOST, '127.0.0.12')
    const body = Buffer.alloc(21)
    body.write('group1')
    body.writeInt32BE(33000, 17)
    const ip = await c.call(60, body)
    expect(ip?.body.toString()).toBe('127.0.0.12')
    const p = await c.call(75)
    const text = p!.body.toString()
    expect(text.startsWith('use_storage_id=0\nid_type_in_filename=ip\n')).toBe(true)
    expect(text).toContain('reserved_storage_space=1.00%\n')
    expect(text).toContain('store_slave_file_use_link=0\n')
    expect(text.split('\n').filter(Boolean)).toHaveLength(26)
    // Nobody has joined group1 yet: ENOENT, as the real tracker answers (the C storage takes it as "nothing to do").
    expect((await c.call(77, Buffer.concat([groupBuf('group1'), groupBuf('127.0.0.12')])))?.status).toBe(2)
    expect((await c.call(77))?.status).toBe(22)
    // storage-only commands without a join: EACCES
    expect((await c.call(83))?.status).toBe(13)
    expect((await c.call(89, Buffer.alloc(20)))?.status).toBe(13)
    c.send(82)
    expect(await c.waitClosed()).toBe(true)
  })

  it('first storage of a group joins ONLINE, becomes ACTIVE on its beat and learns its group from the change flags', async () => {
    const c = await RawFdfs.connect(port, HOST, '127.0.0.11')
    const j = await c.call(81, joinBody({ port: 33000, currentTrackerIp: HOST, trackers: [`${HOST}:${port}`] }))
    expect(j?.status).toBe(0)
    expect(j!.body[0]).toBe(6) // ONLINE
    const stats = Buffer.alloc(STATS_BLOCK_SIZE)
    stats.writeBigInt64BE(5n, 12) // total_upload_count
    const b = await c.call(83, stats)
    expect(b?.status).toBe(0)
    const flags = b!.body[0]
    expect(flags & 4).toBe(4)
    const briefs = []
    for (let off = 1; off < b!.body.length; off += 67) briefs.push(decodeBrief(b!.body, off))
    const mine = briefs.find((x) => x.ip === '127.0.0.11' && x.port === 33000)
    expect(mine?.status).toBe(7) // ACTIVE
    // nothing changed since: a bare 0 flags byte
    const b2 = await c.call(83)
    expect(b2!.body.equals(Buffer.from([0]))).toBe(true)
    const du = Buffer.alloc(16)
    du.writeBigInt64BE(258019n, 0)
    du.writeBigInt64BE(77539n, 8)
    expect((await c.call(84, du))?.status).toBe(0)
    expect((await c.call(84, Buffer.alloc(32)))?.status).toBe(22) // 2 paths reported, 1 joined
    expect((await c.call(83, Buffer.alloc(10)))?.status).toBe(22) // neither empty nor 348 bytes
    storages.push(c)
  })

  it('a second storage goes through SYNC_DEST_REQ (WAIT_SYNC), 76 SYNCING/OFFLINE, then ACTIVE', async () => {
    const d = await RawFdfs.connect(port, HOST, '127.0.0.12')
    const j = await d.call(81, joinBody({ port: 33000, initFlag: true, currentTrackerIp: HOST, trackers: [`${HOST}:${port}`] }))
    expect(j!.body[0]).toBe(0) // INIT, waiting for SYNC_DEST_REQ
    const dest = await d.call(87)
    expect(dest?.status).toBe(0)
    expect(dest!.body.length).toBe(24)
    expect(dest!.body.toString('latin1', 0, 10)).toBe('127.0.0.11')
    // the source asks SYNC_SRC_REQ for the dest, then reports it SYNCING and OFFLINE
    const src = storages[0]
    const q = await src.call(86, Buffer.concat([groupBuf('group1'), groupBuf('127.0.0.12')]))
    expect(q!.body.toString('latin1', 0, 10)).toBe('127.0.0.11')
    expect(q!.body.readBigInt64BE(16)).toBe(dest!.body.readBigInt64BE(16))
    const brief = (status: number) => {
      const b = Buffer.alloc(67)
      b[0] = status
      b.writeInt32BE(33000, 1)
      b.write('127.0.0.12', 5)
      b.write('127.0.0.12', 21)
      return Buffer.concat([groupBuf('group1'), b])
    }
    expect((await src.call(76, brief(2)))?.status).toBe(0)
    expect((await src.call(76, brief(5)))?.status).toBe(0)
    // re-join after the initial sync: OFFLINE -> ONLINE, beat -> ACTIVE
    const j2 = await d.call(81, joinBody({ port: 33000, currentTrackerIp: HOST, trackers: [`${HOST}:${port}`] }))
    expect(j2!.body[0]).toBe(6)
    expect(j2!.body.toString('latin1', 1, 11)).toBe('127.0.0.11')
    const n = await d.call(88, Buffer.concat([groupBuf('127.0.0.11'), Buffer.alloc(8)]))
    expect(n?.status).toBe(0)
    expect((await d.call(79))!.body.length).toBe(24)
    expect((await d.call(83))?.status).toBe(0)
    const du = Buffer.alloc(16)
    du.writeBigInt64BE(258019n, 0)
    du.writeBigInt64BE(77539n, 8)
    await d.call(84, du)
    // both report having synced each other up to now (for download routing)
    const now = Math.floor(Date.now() / 1000)
    const rep = (peer: string) => {
      const b = Buffer.alloc(20)
      b.write(peer)
      b.writeInt32BE(now, 16)
      return b
    }
    expect((await d.call(89, rep('127.0.0.11')))?.status).toBe(0)
    // the source hears about the new member in the change flags of its next report
    const sr = await src.call(89, rep('127.0.0.12'))
    expect(sr?.status).toBe(0)
    expect(sr!.body[0] & 4).toBe(4)
    expect((sr!.body.length - 1) % 67).toBe(0)
    expect((await src.call(89, Buffer.alloc(7)))?.status).toBe(22)
    expect((await src.call(83))!.body.equals(Buffer.from([0]))).toBe(true)
    storages.push(d)
  })

  it('GET_SERVER_ID, GET_STATUS and FETCH_STORAGE_IDS (ids disabled)', async () => {
    const c = await RawFdfs.connect(port, HOST)
    const id = await c.call(70, Buffer.concat([groupBuf('group1'), Buffer.from('127.0.0.12:33000')]))
    expect(id?.body.toString()).toBe('127.0.0.12')
    const st = await c.call(71, Buffer.concat([groupBuf('group1'), Buffer.from('127.0.0.12:33000')]))
    expect(decodeBrief(st!.body)).toMatchObject({ status: 7, port: 33000, id: '127.0.0.12' })
    expect((await c.call(71, Buffer.concat([groupBuf('group1'), Buffer.from('127.0.0.99:1')])))?.status).toBe(2)
    const ids = await c.call(69, Buffer.from([0, 0, 0, 0, 1]))
    expect(ids!.body.equals(Buffer.alloc(8))).toBe(true)
    expect((await c.call(69, Buffer.from([0, 0, 0, 0, 0])))?.status).toBe(95)
    const leader = await c.call(95)
    expect(leader?.body.toString()).toBe(`${HOST}:${port}`)
    // fdfs_tracker_stat / fdfs_storage_stat / fdfs_volumn_stat
    const ts = (await c.call(96, Buffer.from([0, 0, 0])))!.body
    expect([ts.length, ts[0], ts.toString('latin1', 1, 1 + `${HOST}:${port}`.length)]).toEqual([91, 1, `${HOST}:${port}`])
    const ss = (await c.call(97, Buffer.from([0, 0, 0, 0])))!.body
    expect([ss.length, ss.readInt32BE(2)]).toEqual([6 + 2 * 106, 2])
    const notActive = (await c.call(97, Buffer.from([2, 0x21, 7, 0])))!.body
    expect(notActive.readInt32BE(2)).toBe(0)
    const vs = (await c.call(98, Buffer.from([0, 0, 0, 0])))!.body
    expect([vs.length, vs.readInt32BE(1), vs.toString('latin1', 5, 11), vs[5 + 57]]).toEqual([64, 1, 'group1', 1])
    expect((await c.call(98, Buffer.alloc(3)))?.status).toBe(22)
    c.close()
  })
})

describe('fdfs_trackerd: recorded client requests (fixtures) get replies of the same shape', () => {
  const cases = ['upload.jsonl', 'download.jsonl', 'upload_appender.jsonl', 'append_file.jsonl', 'delete.jsonl', 'file_info.jsonl',
    'download_nonexistent.jsonl', 'test_query_servers_nonexistent.jsonl', 'test_upload.jsonl', 'test_getmeta.jsonl', 'test_setmeta_M.jsonl', 'monitor.jsonl']
  for (const file of cases) {
    it(file, async () => {
      for (const conn of loadFixture(`fastdfs/${file}`).filter((x) => x.leg === 'tracker')) {
        const reqs = requests(conn.c2s).filter((r) => r.cmd !== 82)
        const want = replies(conn.s2c)
        expect(want.length).toBe(reqs.length)
        const c = await RawFdfs.connect(port, HOST)
        for (let i = 0; i < reqs.length; i++) {
          const got = await c.call(reqs[i].cmd, reqs[i].body)
          expect(got, `${file} request ${i} (cmd ${reqs[i].cmd})`).toBeDefined()
          expect(got!.cmd).toBe(100)
          expect(got!.status, `cmd ${reqs[i].cmd}`).toBe(want[i].status)
          expect(got!.body.length, `cmd ${reqs[i].cmd}`).toBe(want[i].body.length)
          // group name field, where present, is identical
          if (want[i].body.length >= 16 && reqs[i].cmd !== 92) expect(got!.body.subarray(0, 16)).toEqual(want[i].body.subarray(0, 16))
          if (reqs[i].cmd === 103 || reqs[i].cmd === 102) {
            // update/fetch of an appender goes to its source, like the recording
            if (file.startsWith('append') || file.startsWith('file_info')) expect(got!.body.equals(want[i].body)).toBe(true)
          }
          if (reqs[i].cmd === 91) expect(decodeGroupStat(got!.body)).toMatchObject({ groupName: 'group1', storageCount: 2, storagePort: 33000, readableCount: 2, writableCount: 2, storePathCount: 1, subdirCount: 256, currentTrunkFileId: -1 })
          if (reqs[i].cmd === 92) expect(decodeStorageStats(got!.body).map((s) => [s.ip, s.status, s.version])).toEqual([['127.0.0.11', 7, '6.16.1'], ['127.0.0.12', 7, '6.16.1']])
        }
        c.close()
      }
    })
  }
})

describe('fdfs_trackerd: bad input', () => {
  it('negative and huge pkg_len close the connection; others keep being served', async () => {
    for (const len of [-5n, 1n << 40n]) {
      const c = await RawFdfs.connect(port, HOST)
      const h = Buffer.alloc(10)
      h.writeBigInt64BE(len)
      h[8] = 101
      c.write(h)
      expect(await c.waitClosed()).toBe(true)
    }
    const ok = await RawFdfs.connect(port, HOST)
    expect((await ok.call(111))?.status).toBe(0)
    ok.close()
  })

  it('unknown command, wrong body sizes and unknown groups get the errno replies', async () => {
    const c = await RawFdfs.connect(port, HOST)
    expect((await c.call(199))?.status).toBe(22)
    expect((await c.call(101, Buffer.alloc(3)))?.status).toBe(22)
    expect((await c.call(104, groupBuf('nogroup')))?.status).toBe(2)
    expect((await c.call(90, groupBuf('nogroup')))?.status).toBe(2)
    expect((await c.call(92, groupBuf('nogroup')))?.status).toBe(2)
    expect((await c.call(102, Buffer.concat([groupBuf('group1'), Buffer.from('M00/x')])))?.status).toBe(22)
    expect((await c.call(102, Buffer.concat([groupBuf('group1'), Buffer.alloc(200, 0x41)])))?.status).toBe(22)
    expect((await c.call(102, Buffer.concat([groupBuf('nogroup'), Buffer.from('M00/00/00/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin')])))?.status).toBe(2)
    expect((await c.call(81, Buffer.alloc(20)))?.status).toBe(22)
    expect((await c.call(81, joinBody({ port: 0 })))?.status).toBe(22)
    expect((await c.call(81, joinBody({ port: 33000, group: 'bad/group' })))?.status).toBe(22)
    expect((await c.call(81, joinBody({ port: 33000, storePathCount: 0 })))?.status).toBe(22)
    expect((await c.call(111))?.status).toBe(0)
    c.close()
  })

  it('a truncated body followed by a close does not disturb the server', async () => {
    const c = await RawFdfs.connect(port, HOST)
    const h = Buffer.alloc(10)
    h.writeBigInt64BE(145n)
    h[8] = 81
    c.write(Buffer.concat([h, Buffer.alloc(20)]))
    c.close()
    const ok = await RawFdfs.connect(port, HOST)
    const g = await ok.call(91)
    expect(g?.status).toBe(0)
    ok.close()
  })
})

describe('fdfs_trackerd: lifecycle', () => {
  it('a closed storage connection marks it OFFLINE; a restart keeps the groups and storages', async () => {
    const d = storages.pop()!
    d.close()
    const c = await RawFdfs.connect(port, HOST)
    let st = decodeStorageStats((await c.call(92, groupBuf('group1')))!.body)
    for (let i = 0; i < 50 && st.find((s) => s.ip === '127.0.0.12')?.status !== 5; i++) {
      // the close is processed asynchronously; ask again
      st = decodeStorageStats((await c.call(92, groupBuf('group1')))!.body)
    }
    expect(st.find((s) => s.ip === '127.0.0.12')?.status).toBe(5)
    c.close()
    for (const s of storages.splice(0)) s.close()
    expect(await tracker.stop()).toBe(0)
    await startTracker()
    const c2 = await RawFdfs.connect(port, HOST)
    const g = decodeGroupStat((await c2.call(91))!.body)
    expect(g).toMatchObject({ groupName: 'group1', storageCount: 2, storePathCount: 1, subdirCount: 256, writableCount: 0 })
    const list = decodeStorageStats((await c2.call(92, groupBuf('group1')))!.body)
    expect(list.map((s) => [s.ip, s.status])).toEqual([['127.0.0.11', 5], ['127.0.0.12', 5]])
    expect(list[0].stats.longs[0]).toBe(5) // counters survived
    expect(list[1].srcId).toBe('127.0.0.11')
    // no writable storage now: uploads get ENOENT like the real tracker
    expect((await c2.call(101))?.status).toBe(2)
    // the storage comes back
    const back = await joinStorage('127.0.0.11')
    expect((await c2.call(101))?.body.length).toBe(40)
    back.close()
    c2.close()
  })
})

describe('fdfs_trackerd: a storage restarted with another IP (REPORT_IP_CHANGED 78)', () => {
  const ipChangedBody = (group: string, oldIp: string, newIp: string) => {
    const b = Buffer.alloc(16 + 46 + 46)
    b.write(group, 0, 'latin1')
    b.write(oldIp, 16, 'latin1')
    b.write(newIp, 62, 'latin1')
    return b
  }
  const listGroup9 = async (c: RawFdfs) => decodeStorageStats((await c.call(92, groupBuf('group9')))!.body)
  const from22Fresh = () => RawFdfs.connect(port, HOST, '127.0.0.22')

  it('moves the old entry to the new IP, leaves the old one IP_CHANGED, and answers what the real storaged accepts', async () => {
    const a = await joinStorage('127.0.0.21', { group: 'group9' })
    // A file it created under its old address (the name carries 127.0.0.21) goes there for now;
    // asked twice, so the tracker's cached reply for this storage is what must follow the move.
    const remote = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: '127.0.0.21', timestamp: Math.floor(Date.now() / 1000), size: 10, crc32: 1, ext: 'bin' })
    const pre = await RawFdfs.connect(port, HOST)
    for (let i = 0; i < 2; i++) {
      const r = await pre.call(102, Buffer.concat([groupBuf('group9'), Buffer.from(remote, 'latin1')]))
      expect(r!.body.toString('latin1', 16, 31).replace(/\0+$/, '')).toBe('127.0.0.21')
    }
    pre.close()
    const from22 = await RawFdfs.connect(port, HOST, '127.0.0.22')
    // The old address is still ACTIVE: EBUSY (the real storaged takes it as "try later").
    expect((await from22.call(78, ipChangedBody('group9', '127.0.0.21', '127.0.0.22')))?.status).toBe(16)
    a.close()
    const admin = await RawFdfs.connect(port, HOST)
    for (let i = 0; i < 50 && (await listGroup9(admin)).find((s) => s.ip === '127.0.0.21')?.status !== 5; i++) await new Promise((r) => setTimeout(r, 20))
    // Only the storage itself may report its move; wrong sizes, unknown groups and unknown old IPs are refused.
    expect((await from22.call(78, ipChangedBody('group9', '127.0.0.21', '127.0.0.23')))?.status).toBe(22)
    expect((await from22.call(78, Buffer.alloc(50)))?.status).toBe(22)
    expect((await from22.call(78, ipChangedBody('nosuch', '127.0.0.21', '127.0.0.22')))?.status).toBe(2)
    expect((await from22.call(78, ipChangedBody('group9', '127.0.0.99', '127.0.0.22')))?.status).toBe(2)
    // The move itself, then a repeat (EALREADY, as upstream).
    expect((await from22.call(78, ipChangedBody('group9', '127.0.0.21', '127.0.0.22')))?.status).toBe(0)
    expect((await from22.call(78, ipChangedBody('group9', '127.0.0.21', '127.0.0.22')))?.status).toBe(114)
    from22.close()
    const list = await listGroup9(admin)
    expect(list.map((s) => [s.ip, s.status])).toEqual([['127.0.0.21', 3], ['127.0.0.22', 5]])
    expect(list[1].stats.longs[0]).toBe(5) // the counters moved with it
    // The change is in the changelog (the real tracker's line format), delivered once per storage.
    const cl = await from22Fresh()
    const lines = (await cl.call(77, Buffer.concat([groupBuf('group9'), groupBuf('127.0.0.22')])))!
    expect(lines.status).toBe(0)
    expect(lines.body.toString()).toMatch(/^\d+ group9 127\.0\.0\.21 3 127\.0\.0\.22\n$/)
    expect((await cl.call(77, Buffer.concat([groupBuf('group9'), groupBuf('127.0.0.22')])))!.body.length).toBe(0)
    expect((await cl.call(77, Buffer.concat([groupBuf('group9'), groupBuf('127.0.0.99')])))?.status).toBe(2)
    cl.close()
    // The storage then joins from its new address and carries on.
    const back = await joinStorage('127.0.0.22', { group: 'group9' })
    expect((await listGroup9(admin)).find((s) => s.ip === '127.0.0.22')?.status).toBe(7)
    // The same file is now routed to its new address.
    for (const cmd of [102, 103]) {
      const r = await admin.call(cmd, Buffer.concat([groupBuf('group9'), Buffer.from(remote, 'latin1')]))
      expect(r?.status, `cmd ${cmd}`).toBe(0)
      expect(r!.body.toString('latin1', 16, 31).replace(/\0+$/, ''), `cmd ${cmd}`).toBe('127.0.0.22')
    }
    back.close()
    admin.close()
  })
})
