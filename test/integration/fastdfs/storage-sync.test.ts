/**
 * Receiving side of storage<->storage sync (commands 9, 16-19, 25, 35, 37, 40)
 * against a real fdfs_storaged: replicas land complete, with the source
 * timestamp as mtime, and lower-case binlog records.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { crc32 } from '../../../src/engine/crc32.js'
import { fixedField, long, RawConn, startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'

let st: TestStorage
let c: RawConn
const TS = 1795300000

beforeAll(async () => {
  st = await startTestStorage('fdfs-sync')
  c = await RawConn.connect(st.port)
})
afterAll(async () => {
  c?.destroy()
  await st?.destroy()
})

const ts4 = (t = TS) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(t)
  return b
}
const grp = () => Buffer.concat([Buffer.from('group1\0'), Buffer.from('7f0000bc4d18e30000', 'hex')]) // garbage after the NUL, as real senders do
const file = (n: string) => path.join(st.dir, 'store0', 'data', n.slice(4))
const binlog = () => readFileSync(path.join(st.dir, 'data', 'sync', 'binlog.000'), 'utf8')

function name(data: Buffer, appender = false): string {
  return encodeFileName({ storePathIndex: 0, subHigh: 0x1a, subLow: 0x2b, source: '127.0.0.12', timestamp: TS, size: data.length, crc32: crc32(data), ext: 'bin', appender })
}

function whole(n: string, data: Buffer): Buffer {
  const nb = Buffer.from(n)
  return Buffer.concat([long(nb.length), long(data.length), ts4(), grp(), nb, data])
}

function range(n: string, offset: number, data: Buffer): Buffer {
  const nb = Buffer.from(n)
  return Buffer.concat([long(nb.length), long(offset), long(data.length), ts4(), grp(), nb, data])
}

function two(a: string, b: string): Buffer {
  return Buffer.concat([long(a.length), long(b.length), ts4(), grp(), Buffer.from(a), Buffer.from(b)])
}

describe('sync receiver', () => {
  it('REPORT_SERVER_ID, SYNC_CREATE (EEXIST on repeat), SYNC_UPDATE, SYNC_DELETE', async () => {
    expect((await c.call(9, fixedField('127.0.0.12', 16))).status).toBe(0)
    const data = Buffer.from('replicated content')
    const n = name(data)
    expect((await c.call(16, whole(n, data))).status).toBe(0)
    expect(readFileSync(file(n)).equals(data)).toBe(true)
    expect(Math.floor(statSync(file(n)).mtimeMs / 1000)).toBe(TS)
    expect((await c.call(16, whole(n, data))).status).toBe(17)
    expect((await c.call(16, whole(n, Buffer.alloc(0)), 17)).status).toBe(0) // "already there" announcement
    const meta = Buffer.from('a\x02b')
    expect((await c.call(18, whole(n + '-m', meta))).status).toBe(0)
    expect(readFileSync(file(n) + '-m').equals(meta)).toBe(true)
    expect((await c.call(17, Buffer.concat([ts4(), grp(), Buffer.from(n)]))).status).toBe(0)
    expect(existsSync(file(n))).toBe(false)
    expect((await c.call(17, Buffer.concat([ts4(), grp(), Buffer.from(n)]))).status).toBe(2)
    expect(binlog()).toContain(`${TS} c ${n}\n`)
    expect(binlog()).toContain(`${TS} u ${n}-m\n`)
    expect(binlog()).toContain(`${TS} d ${n}\n`)
  })

  it('SYNC_APPEND (EEXIST when already applied), SYNC_MODIFY, SYNC_TRUNCATE', async () => {
    const base = Buffer.from('0123456789')
    const n = name(base, true)
    expect((await c.call(16, whole(n, base))).status).toBe(0)
    expect((await c.call(25, range(n, 10, Buffer.from('abc')))).status).toBe(0)
    expect((await c.call(25, range(n, 10, Buffer.from('abc')))).status).toBe(17)
    expect((await c.call(35, range(n, 0, Buffer.from('XY')))).status).toBe(0)
    expect(readFileSync(file(n)).toString()).toBe('XY23456789abc')
    const tr = Buffer.concat([long(n.length), long(13), long(4), ts4(), grp(), Buffer.from(n)])
    expect((await c.call(37, tr)).status).toBe(0)
    expect(readFileSync(file(n)).toString()).toBe('XY23')
    expect(binlog()).toContain(`${TS} a ${n} 10 3\n`)
    expect(binlog()).toContain(`${TS} t ${n} 13 4\n`)
  })

  it('SYNC_CREATE_LINK and SYNC_RENAME (empty reply, unlike V6.16.1)', async () => {
    const data = Buffer.from('link me')
    const src = name(data)
    expect((await c.call(16, whole(src, data))).status).toBe(0)
    const dst = src.replace(/\.bin$/, '_l.bin')
    expect((await c.call(19, two(dst, src))).status).toBe(0)
    expect(readFileSync(file(dst)).equals(data)).toBe(true)
    const renamed = src.replace(/\d{3}\.bin$/, '000.bin')
    const r = await c.call(40, two(renamed, src))
    expect(r.status).toBe(0)
    expect(r.body.length).toBe(0)
    expect(existsSync(file(src))).toBe(false)
    expect(readFileSync(file(renamed)).equals(data)).toBe(true)
    expect((await c.call(40, two(renamed, src))).status).toBe(17)
    expect(binlog()).toContain(`${TS} r ${renamed} ${src}\n`)
    expect(binlog()).toContain(`${TS} l ${dst} ${src}\n`)
  })

  it('rejects a wrong group and bad names', async () => {
    const data = Buffer.from('x')
    const n = name(data)
    const body = whole(n, data)
    body.write('group9', 20, 'latin1')
    expect((await c.call(16, body)).status).toBe(22)
    expect((await c.call(16, whole('M00/00/00/../../etc/passwd_________________', data))).status).toBe(22)
    expect((await c.call(111)).status).toBe(0)
  })
})
