/**
 * fdfs_storaged as a real child process: every client command round trip over
 * the raw protocol, with the files and binlog checked on disk.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { metaFromObject, metaToObject, packMetadata, unpackMetadata } from '../../../src/personalities/fastdfs/metadata.js'
import { crc32 } from '../../../src/engine/crc32.js'
import {
  appendBody,
  downloadBody,
  groupName,
  header,
  long,
  modifyBody,
  RawConn,
  remoteOf,
  setMetaBody,
  slaveBody,
  startTestStorage,
  truncateBody,
  uploadBody,
  type TestStorage,
} from '../../helpers/fdfs-raw.js'

let st: TestStorage
let c: RawConn
const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256))

beforeAll(async () => {
  st = await startTestStorage('fdfs-storage')
  c = await RawConn.connect(st.port)
})

afterAll(async () => {
  c?.destroy()
  await st?.destroy()
})

const onDisk = (remote: string) => path.join(st.dir, 'store0', 'data', remote.slice(4))

async function upload(data = payload, ext = 'bin', cmd = 11): Promise<string> {
  const r = await c.call(cmd, uploadBody(data, ext))
  expect(r.status).toBe(0)
  expect(r.cmd).toBe(100)
  expect(r.body.subarray(0, 16).toString('latin1').replace(/\0+$/, '')).toBe('group1')
  return remoteOf(r.body)
}

async function download(remote: string, offset = 0, length = 0) {
  return c.call(14, downloadBody('group1', remote, offset, length))
}

describe('fdfs_storaged commands', () => {
  it('uploads (11) with a real name, mtime = name timestamp, binlog C record', async () => {
    const before = Math.floor(Date.now() / 1000)
    const remote = await upload()
    expect(remote).toMatch(/^M00\/[0-9A-F]{2}\/[0-9A-F]{2}\/[A-Za-z0-9_-]{27}\d{3}\.bin$/)
    const d = decodeFileName(remote)
    expect(d.sourceIp).toBe('127.0.0.1')
    expect(d.size).toBe(1000)
    expect(d.crc32).toBe(crc32(payload))
    expect(d.timestamp).toBeGreaterThanOrEqual(before - 1)
    const file = onDisk(remote)
    expect(readFileSync(file).equals(payload)).toBe(true)
    expect(Math.floor(statSync(file).mtimeMs / 1000)).toBe(d.timestamp)
    const binlog = readFileSync(path.join(st.dir, 'data', 'sync', 'binlog.000'), 'utf8')
    expect(binlog).toContain(`${d.timestamp} C ${remote}\n`)
    // no ext → 7 digits
    expect(await upload(Buffer.from('x'), '')).toMatch(/\/[A-Za-z0-9_-]{27}\d{7}$/)
  })

  it('downloads (14) whole, ranges, clamps, and rejects offset >= size with 22', async () => {
    const remote = await upload()
    const all = await download(remote)
    expect(all.status).toBe(0)
    expect(all.body.equals(payload)).toBe(true)
    expect((await download(remote, 10, 20)).body.equals(payload.subarray(10, 30))).toBe(true)
    expect((await download(remote, 990, 100)).body.equals(payload.subarray(990))).toBe(true)
    expect((await download(remote, 1000)).status).toBe(22)
    const empty = await upload(Buffer.alloc(0))
    expect((await download(empty)).status).toBe(22)
    expect((await download(remote.replace(/\d{3}\.bin$/, '999.bin'))).status).toBe(2)
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a)
    const bigName = await upload(big)
    const r = await download(bigName)
    expect(r.body.length).toBe(big.length)
    expect(r.body.equals(big)).toBe(true)
  })

  it('answers small uploads pipelined in one write in order, bad ones with their errno, each good one on disk and in the binlog', async () => {
    const p = await RawConn.connect(st.port)
    const req = (cmd: number, body: Buffer) => Buffer.concat([header(body.length, cmd), body])
    const bodies = [Buffer.from('one'), Buffer.alloc(4096, 2), Buffer.from('three')]
    const badSize = uploadBody(Buffer.from('xx'))
    badSize.writeBigInt64BE(5n, 1) // declared 5, carries 2
    p.write(Buffer.concat([
      req(11, uploadBody(bodies[0], 'txt')),
      req(11, uploadBody(bodies[1], 'b@d')), // bad extension: EINVAL
      req(23, uploadBody(bodies[1], 'bin')), // appender
      req(11, badSize), // size field != body: EINVAL
      req(11, uploadBody(bodies[2], 'bin', 9)), // no store path 9: EINVAL
      req(11, uploadBody(bodies[2])),
    ]))
    const r1 = await p.reply()
    expect((await p.reply()).status).toBe(22)
    const r3 = await p.reply()
    expect((await p.reply()).status).toBe(22)
    expect((await p.reply()).status).toBe(22)
    const r6 = await p.reply()
    const names = [r1, r3, r6].map((r) => {
      expect(r.status).toBe(0)
      return remoteOf(r.body)
    })
    expect(decodeFileName(names[1]).appender).toBe(true)
    const binlog = readFileSync(path.join(st.dir, 'data', 'sync', 'binlog.000'), 'utf8')
    for (const [i, n] of names.entries()) {
      expect(readFileSync(onDisk(n)).equals([bodies[0], bodies[1], bodies[2]][i])).toBe(true)
      expect(binlog).toContain(` C ${n}\n`)
    }
    p.destroy()
  })

  it('answers 1,000 pipelined small downloads from a client that reads nothing until it has sent them all, in order', async () => {
    const name = await upload(Buffer.alloc(4000, 9))
    const p = await RawConn.connect(st.port)
    const one = Buffer.concat([header(downloadBody('group1', name).length, 14), downloadBody('group1', name)])
    // Far more reply bytes (~4 MB) than the server keeps queued for an unread client: it must stop
    // reading, then carry on as the client catches up, without losing or reordering anything.
    const ranged = Buffer.concat([header(downloadBody('group1', name, 7, 3).length, 14), downloadBody('group1', name, 7, 3)])
    p.sock.pause()
    for (let i = 0; i < 1000; i++) p.write(i % 100 === 99 ? ranged : one)
    await new Promise((r) => setTimeout(r, 200))
    p.sock.resume()
    for (let i = 0; i < 1000; i++) {
      const r = await p.reply()
      expect(r.status).toBe(0)
      expect(r.body.length).toBe(i % 100 === 99 ? 3 : 4000)
    }
    p.destroy()
  })

  it('answers small downloads pipelined in one write in order, the synchronous path and the full handler mixed', async () => {
    const a = await upload(Buffer.from('first file'))
    const b = await upload(payload)
    const p = await RawConn.connect(st.port)
    const req = (body: Buffer) => Buffer.concat([header(body.length, 14), body])
    p.write(Buffer.concat([
      req(downloadBody('group1', a)),
      req(downloadBody('group1', b, 500, 10)),
      req(downloadBody('group1', b.replace(/\d{3}\.bin$/, '999.bin'))), // missing: ENOENT
      req(downloadBody('group2', a)), // not our group: EINVAL
      req(downloadBody('group1', b, 1000)), // offset = size: EINVAL
      req(downloadBody('group1', a, 6)),
    ]))
    expect((await p.reply()).body.toString()).toBe('first file')
    expect((await p.reply()).body.equals(payload.subarray(500, 510))).toBe(true)
    expect((await p.reply()).status).toBe(2)
    expect((await p.reply()).status).toBe(22)
    expect((await p.reply()).status).toBe(22)
    const last = await p.reply()
    expect([last.status, last.body.toString()]).toEqual([0, 'file'])
    p.destroy()
  })

  it('downloads (14) files above 64 KiB (the zero-copy path when built) whole and in ranges, pipelined in order', async () => {
    const big = Buffer.allocUnsafe(2 * 1024 * 1024 + 333)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff
    const name = await upload(big)
    const all = await download(name)
    expect(all.status).toBe(0)
    expect(all.body.equals(big)).toBe(true)
    // offset + length, offset to the end, and a length past the end (clamped)
    expect((await download(name, 100_001, 1_000_000)).body.equals(big.subarray(100_001, 1_100_001))).toBe(true)
    expect((await download(name, 1_500_000)).body.equals(big.subarray(1_500_000))).toBe(true)
    expect((await download(name, big.length - 70_000, 500_000)).body.equals(big.subarray(big.length - 70_000))).toBe(true)
    // Pipelined: a large reply, a small one, a large range and a status-only reply leave in request order.
    const p = await RawConn.connect(st.port)
    const req = (b: Buffer) => Buffer.concat([header(b.length, 14), b])
    p.write(Buffer.concat([
      req(downloadBody('group1', name, 0, 0)),
      req(downloadBody('group1', name, 5, 10)),
      req(downloadBody('group1', name, 65_536, 65_537)),
      header(0, 111),
    ]))
    expect((await p.reply()).body.equals(big)).toBe(true)
    expect((await p.reply()).body.equals(big.subarray(5, 15))).toBe(true)
    expect((await p.reply()).body.equals(big.subarray(65_536, 131_073))).toBe(true)
    const active = await p.reply()
    expect([active.status, active.body.length]).toEqual([0, 0])
    p.destroy()
    // A client that hangs up mid-download costs only its connection.
    const h = await RawConn.connect(st.port)
    h.send(14, downloadBody('group1', name))
    h.destroy()
    expect((await download(name, 7, 100_000)).body.equals(big.subarray(7, 100_007))).toBe(true)
  })

  it('deletes (12): file and its -m side file go, second delete is ENOENT', async () => {
    const remote = await upload()
    expect((await c.call(13, setMetaBody('group1', remote, 'O', packMetadata(metaFromObject({ a: '1' }))))).status).toBe(0)
    expect(existsSync(onDisk(remote) + '-m')).toBe(true)
    expect((await c.call(12, groupName('group1', remote))).status).toBe(0)
    expect(existsSync(onDisk(remote))).toBe(false)
    expect(existsSync(onDisk(remote) + '-m')).toBe(false)
    const again = await c.call(12, groupName('group1', remote))
    expect(again.status).toBe(2)
    expect(again.body.length).toBe(0)
    const binlog = readFileSync(path.join(st.dir, 'data', 'sync', 'binlog.000'), 'utf8')
    expect(binlog).toContain(` D ${remote}\n`)
    expect(binlog).toContain(` D ${remote}-m\n`)
  })

  it('sets (13, O/M) and gets (15) metadata', async () => {
    const remote = await upload()
    expect((await c.call(15, groupName('group1', remote))).body.length).toBe(0)
    const set = (flag: 'O' | 'M', o: Record<string, string>) => c.call(13, setMetaBody('group1', remote, flag, packMetadata(metaFromObject(o))))
    expect((await set('O', { width: '160', height: '80' })).status).toBe(0)
    expect((await set('M', { width: '640', color: 'blue' })).status).toBe(0)
    const g = await c.call(15, groupName('group1', remote))
    expect(g.body.toString('latin1')).toBe('color\x02blue\x01height\x0280\x01width\x02640')
    expect((await set('M', {})).status).toBe(0)
    expect((await set('O', { author: 'fixrec' })).status).toBe(0)
    expect(metaToObject(unpackMetadata((await c.call(15, groupName('group1', remote))).body))).toEqual({ author: 'fixrec' })
    expect((await set('O', {})).status).toBe(0)
    expect(existsSync(onDisk(remote) + '-m')).toBe(false)
    const missing = remote.replace(/\d{3}\.bin$/, '999.bin')
    expect((await c.call(13, setMetaBody('group1', missing, 'O', Buffer.from('a\x02b')))).status).toBe(2)
    expect((await c.call(15, groupName('group1', missing))).status).toBe(2)
  })

  it('appender upload (23), append (24), modify (34), truncate (36), file info (22), regenerate (38)', async () => {
    const app = await upload(payload, 'bin', 23)
    const d = decodeFileName(app)
    expect(d.appender).toBe(true)
    expect(d.crc32).toBe(crc32(payload))
    const extra = Buffer.from('appended-data-0123456789\n')
    expect((await c.call(24, appendBody(app, extra))).status).toBe(0)
    let content = Buffer.concat([payload, extra])
    expect((await download(app)).body.equals(content)).toBe(true)
    const info = await c.call(22, groupName('group1', app))
    expect(info.status).toBe(0)
    expect(info.body.length).toBe(40)
    expect(Number(info.body.readBigInt64BE(0))).toBe(1025)
    // The timestamp field is the file's mtime (as upstream answers from stat), which the append moved
    // on: it is the create time only if the append landed in the same second.
    const mtime = Math.floor(statSync(onDisk(app)).mtimeMs / 1000)
    expect(Number(info.body.readBigInt64BE(8))).toBe(mtime)
    expect(mtime).toBeGreaterThanOrEqual(d.timestamp)
    expect(Number(info.body.readBigInt64BE(16)) >>> 0).toBe(crc32(content))
    expect(info.body.subarray(24).toString('latin1').replace(/\0+$/, '')).toBe('127.0.0.1')
    const noCrc = await c.call(22, groupName('group1', app), 1)
    expect(Number(noCrc.body.readBigInt64BE(16))).toBe(0)
    expect((await c.call(34, modifyBody(app, 5, Buffer.from('XYZ')))).status).toBe(0)
    content = Buffer.from(content)
    content.write('XYZ', 5, 'latin1')
    expect((await download(app)).body.equals(content)).toBe(true)
    expect((await c.call(34, modifyBody(app, 5000, Buffer.from('XYZ')))).status).toBe(22)
    expect((await c.call(36, truncateBody(app, 100))).status).toBe(0)
    expect((await download(app)).body.equals(content.subarray(0, 100))).toBe(true)
    // append/modify/truncate on a normal file: EINVAL
    const normal = await upload()
    expect((await c.call(24, appendBody(normal, extra))).status).toBe(22)
    expect((await c.call(36, truncateBody(normal, 1))).status).toBe(22)
    const regen = await c.call(38, Buffer.from(app, 'latin1'))
    expect(regen.status).toBe(0)
    const fresh = remoteOf(regen.body)
    const fd = decodeFileName(fresh)
    expect(fd.appender).toBe(false)
    expect(fd.size).toBe(100)
    expect(fd.crc32).toBe(crc32(content.subarray(0, 100)))
    expect(fresh.slice(-7)).toBe(app.slice(-7))
    expect(existsSync(onDisk(app))).toBe(false)
    expect((await download(fresh)).body.equals(content.subarray(0, 100))).toBe(true)
    const binlog = readFileSync(path.join(st.dir, 'data', 'sync', 'binlog.000'), 'utf8')
    expect(binlog).toContain(` A ${app} 1000 25\n`)
    expect(binlog).toContain(` M ${app} 5 3\n`)
    expect(binlog).toMatch(new RegExp(` T ${app} \\d+ 100\\n`))
    expect(binlog).toContain(` R ${fresh} ${app}\n`)
  })

  it('slave upload (21) next to its master; EEXIST on repeat; ENOENT without master', async () => {
    const master = await upload()
    const r = await c.call(21, slaveBody(master, '_big', 'bin', payload))
    expect(r.status).toBe(0)
    const slave = remoteOf(r.body)
    expect(slave).toBe(master.replace(/\.bin$/, '_big.bin'))
    expect(readFileSync(onDisk(slave)).equals(payload)).toBe(true)
    expect((await c.call(21, slaveBody(master, '_big', 'bin', payload))).status).toBe(17)
    const info = await c.call(22, groupName('group1', slave))
    expect(Number(info.body.readBigInt64BE(16)) >>> 0).toBe(crc32(payload))
    const missing = master.replace(/\d{3}\.bin$/, '999.bin')
    expect((await c.call(21, slaveBody(missing, '_s', 'bin', payload))).status).toBe(2)
    // connection still usable after the drained error bodies
    expect((await c.call(111)).status).toBe(0)
  })

  it('ACTIVE_TEST (111) gets an empty reply; QUIT (82) closes without a reply', async () => {
    const r = await c.call(111)
    expect(r).toMatchObject({ cmd: 100, status: 0 })
    expect(r.body.length).toBe(0)
    const q = await RawConn.connect(st.port)
    q.send(82)
    expect(await q.closedByPeer()).toBe(true)
  })

  it('pipelines several requests on one connection', async () => {
    const p = await RawConn.connect(st.port)
    p.write(Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 111, 0]),
      Buffer.concat([long(15 + 3).subarray(0), Buffer.of(11, 0)]),
      uploadBody(Buffer.from('abc'), 'txt'),
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 111, 0]),
    ]))
    expect((await p.reply()).status).toBe(0)
    const up = await p.reply()
    expect(up.status).toBe(0)
    expect(remoteOf(up.body)).toMatch(/\.txt$/)
    expect((await p.reply()).status).toBe(0)
    p.destroy()
  })
})
