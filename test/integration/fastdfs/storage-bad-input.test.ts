/**
 * Bad input against a real fdfs_storaged child: each case gets the errno the
 * real server answers (or a close for framing errors), leaves nothing on disk,
 * and another client keeps being served.
 */
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metaFromObject, metaToObject, packMetadata, unpackMetadata } from '../../../src/personalities/fastdfs/metadata.js'
import {
  downloadBody,
  fixedField,
  groupName,
  header,
  long,
  RawConn,
  remoteOf,
  setMetaBody,
  slaveBody,
  startTestStorage,
  uploadBody,
  type TestStorage,
} from '../../helpers/fdfs-raw.js'

let st: TestStorage
let good: RawConn
let known: string

function files(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e)
    if (statSync(p).isDirectory()) out.push(...files(p))
    else out.push(path.relative(dir, p))
  }
  return out
}
const stored = () => files(path.join(st.dir, 'store0')).sort()

beforeAll(async () => {
  st = await startTestStorage('fdfs-bad')
  good = await RawConn.connect(st.port)
  const r = await good.call(11, uploadBody(Buffer.from('hello world'), 'txt'))
  known = remoteOf(r.body)
})
afterAll(async () => {
  good?.destroy()
  await st?.destroy()
})

async function stillServed(): Promise<void> {
  const r = await good.call(14, downloadBody('group1', known))
  expect(r.status).toBe(0)
  expect(r.body.toString()).toBe('hello world')
}

async function expectClosed(bytes: Buffer): Promise<void> {
  const c = await RawConn.connect(st.port)
  c.write(bytes)
  expect(await c.closedByPeer()).toBe(true)
}

describe('bad input', () => {
  it('negative and oversized package lengths close the connection', async () => {
    const before = stored()
    await expectClosed(header(-1n, 11))
    await expectClosed(header(-(2n ** 62n), 14))
    await expectClosed(header(2n ** 40n, 12)) // control command far above buff_size
    await expectClosed(header(2n ** 62n, 11)) // absurd upload
    expect(stored()).toEqual(before)
    await stillServed()
  })

  it('unknown command → EINVAL and the connection stays usable', async () => {
    const c = await RawConn.connect(st.port)
    const r = await c.call(99, Buffer.from('junk'))
    expect(r).toMatchObject({ cmd: 100, status: 22 })
    expect(r.body.length).toBe(0)
    expect((await c.call(111)).status).toBe(0)
    c.destroy()
  })

  it('short and inconsistent bodies → EINVAL, nothing stored', async () => {
    const before = stored()
    const c = await RawConn.connect(st.port)
    expect((await c.call(11, Buffer.alloc(10))).status).toBe(22)
    // declared file size disagrees with the body
    const body = Buffer.concat([Buffer.of(0), long(5), fixedField('bin', 6), Buffer.from('abc')])
    expect((await c.call(11, body)).status).toBe(22)
    expect((await c.call(14, Buffer.alloc(20))).status).toBe(22)
    expect((await c.call(12, Buffer.from('group1'))).status).toBe(22)
    expect((await c.call(13, Buffer.alloc(30))).status).toBe(22)
    expect((await c.call(111)).status).toBe(0)
    c.destroy()
    expect(stored()).toEqual(before)
  })

  it('wrong group → EINVAL', async () => {
    expect((await good.call(14, downloadBody('group2', known))).status).toBe(22)
    expect((await good.call(12, groupName('groupX', known))).status).toBe(22)
    expect((await good.call(15, groupName('', known))).status).toBe(22)
    await stillServed()
  })

  it('path tricks, bad base64 and bad ext → EINVAL', async () => {
    const before = stored()
    const tricks = [
      'M00/00/00/../../../../../../etc/passwd12345678',
      'M00/00/00/..%2f..%2fetc%2fpasswd0123456789012345',
      known.replace(/\/[^/]+$/, '/') + '../' + known.slice(10),
      'M00/00/00/' + '/'.repeat(34),
      known.slice(0, 12) + '*' + known.slice(13),
      known.replace(/^M00/, 'M05'),
      known.replace(/^M00\/00/, 'M00/zz'),
      known + '/x',
      known.slice(0, 30),
      'x'.repeat(200),
    ]
    for (const t of tricks) {
      expect((await good.call(14, downloadBody('group1', t))).status, t).toBe(22)
      expect((await good.call(12, groupName('group1', t))).status, t).toBe(22)
    }
    expect((await good.call(11, uploadBody(Buffer.from('x'), 'a/b'))).status).toBe(22)
    expect((await good.call(11, uploadBody(Buffer.from('x'), '..'))).status).toBe(22)
    expect((await good.call(21, slaveBody(known, '../x', 'bin', Buffer.from('x')))).status).toBe(22)
    expect((await good.call(21, slaveBody(known, '_a', 'b/n', Buffer.from('x')))).status).toBe(22)
    expect(stored()).toEqual(before)
    await stillServed()
  })

  it('metadata over limits: body above buff_size closes like the real server; long names/values are truncated', async () => {
    const huge = Buffer.alloc(300 * 1024, 0x61)
    await expectClosed(Buffer.concat([header(33 + known.length + huge.length, 13), setMetaBody('group1', known, 'O', huge).subarray(0)]))
    const long = packMetadata(metaFromObject({ ['n'.repeat(100)]: 'v'.repeat(400) }))
    expect((await good.call(13, setMetaBody('group1', known, 'O', long))).status).toBe(0)
    const got = unpackMetadata((await good.call(15, groupName('group1', known))).body)
    expect(got[0].name.length).toBe(64)
    expect(got[0].value.length).toBe(256)
    expect(Object.keys(metaToObject(got))).toHaveLength(1)
    const badFlag = setMetaBody('group1', known, 'O', Buffer.from('a\x02b'))
    badFlag[16] = 0x58
    expect((await good.call(13, badFlag)).status).toBe(22)
  })

  it('a client vanishing mid-upload leaves nothing behind', async () => {
    const before = stored().filter((f) => !f.endsWith('-m'))
    const c = await RawConn.connect(st.port)
    const size = 8 * 1024 * 1024
    c.write(header(15 + size, 11))
    c.write(Buffer.concat([Buffer.of(0), long(size), fixedField('bin', 6)]))
    c.write(Buffer.alloc(1024 * 1024, 1))
    await new Promise((r) => setTimeout(r, 200))
    c.destroy()
    // the server notices the close and removes its temp file
    for (let i = 0; i < 100 && stored().filter((f) => !f.endsWith('-m')).length !== before.length; i++) await new Promise((r) => setTimeout(r, 50))
    expect(stored().filter((f) => !f.endsWith('-m'))).toEqual(before)
    await stillServed()
  })
})
