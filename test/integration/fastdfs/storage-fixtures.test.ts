/**
 * Replays the storage legs of the recorded real-client sessions
 * (../shared/fixtures/fastdfs) against our fdfs_storaged and compares reply
 * shapes: command, status, body length, and exact bytes where the content is
 * deterministic (downloads, metadata, file sizes and CRCs). File names our
 * server generates replace the recorded ones in later requests (same length).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeFileName } from '../../../src/personalities/fastdfs/file-id.js'
import { loadFixture } from '../../helpers/fixtures.js'
import { RawConn, startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'

let st: TestStorage
/** recorded remote name → ours */
const names = new Map<string, string>()

beforeAll(async () => {
  st = await startTestStorage('fdfs-fixtures')
})
afterAll(async () => {
  await st?.destroy()
})

interface Msg {
  cmd: number
  status: number
  body: Buffer
}

function split(stream: Buffer): Msg[] {
  const out: Msg[] = []
  let p = 0
  while (p + 10 <= stream.length) {
    const len = Number(stream.readBigInt64BE(p))
    out.push({ cmd: stream[p + 8], status: stream[p + 9], body: stream.subarray(p + 10, p + 10 + len) })
    p += 10 + len
  }
  return out
}

function substitute(b: Buffer): Buffer {
  let s = b.toString('latin1')
  for (const [from, to] of names) s = s.split(from).join(to)
  return Buffer.from(s, 'latin1')
}

const NAME_RE = /M00\/[0-9A-F]{2}\/[0-9A-F]{2}\/[A-Za-z0-9_.-]+/

/** Replay every storage connection of a fixture; returns [request, recorded reply, our reply] triples. */
async function replay(file: string): Promise<Array<{ req: Msg; rec: Msg; ours: Msg }>> {
  const out: Array<{ req: Msg; rec: Msg; ours: Msg }> = []
  for (const conn of loadFixture(`fastdfs/${file}`).filter((c) => c.leg === 'storage')) {
    const reqs = split(conn.c2s)
    const recs = split(conn.s2c)
    expect(recs.length).toBe(reqs.length)
    const c = await RawConn.connect(st.port)
    for (let i = 0; i < reqs.length; i++) {
      const req = { ...reqs[i], body: substitute(reqs[i].body) }
      const ours = await c.call(req.cmd, req.body, req.status)
      const rec = recs[i]
      expect(ours.cmd, `${file} #${i} cmd ${req.cmd}`).toBe(rec.cmd)
      expect(ours.status, `${file} #${i} cmd ${req.cmd} status`).toBe(rec.status)
      expect(ours.body.length, `${file} #${i} cmd ${req.cmd} body length`).toBe(rec.body.length)
      const recName = NAME_RE.exec(rec.body.toString('latin1'))
      const ourName = NAME_RE.exec(ours.body.toString('latin1'))
      if (recName && ourName && rec.body.length === 16 + recName[0].length) names.set(recName[0], ourName[0])
      out.push({ req, rec, ours })
    }
    c.destroy()
  }
  return out
}

describe('fixture replay against our storage', () => {
  it('upload.jsonl + download.jsonl: same reply shapes, same bytes back', async () => {
    const up = await replay('upload.jsonl')
    expect(up[0].req.cmd).toBe(11)
    const ours = names.get('M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin')!
    expect(decodeFileName(ours)).toMatchObject({ size: 1000, crc32: decodeFileName('M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin').crc32 })
    const dl = await replay('download.jsonl')
    expect(dl[0].ours.body.equals(dl[0].rec.body)).toBe(true)
  })

  it('upload_appender.jsonl + append_file.jsonl + file_info.jsonl', async () => {
    await replay('upload_appender.jsonl')
    expect(decodeFileName(names.get('M00/00/20/fwAADGsCbDeEKin4AAAAAHTj-0E139.bin')!).appender).toBe(true)
    await replay('append_file.jsonl')
    const [fi] = await replay('file_info.jsonl')
    expect(fi.req.cmd).toBe(22)
    // size and crc32 of the same 1025 bytes are identical; timestamp and source ip differ.
    expect(fi.ours.body.subarray(0, 8).equals(fi.rec.body.subarray(0, 8))).toBe(true)
    expect(fi.ours.body.subarray(16, 24).equals(fi.rec.body.subarray(16, 24))).toBe(true)
  })

  it('test_upload.jsonl (upload, set meta, slave, slave meta, file info), setmeta M/O and getmeta', async () => {
    const t = await replay('test_upload.jsonl')
    expect(t.map((x) => x.req.cmd)).toEqual([11, 13, 111, 21, 13, 22])
    const info = t[5]
    expect(info.ours.body.subarray(0, 8).equals(info.rec.body.subarray(0, 8))).toBe(true)
    expect(info.ours.body.subarray(16, 24).equals(info.rec.body.subarray(16, 24))).toBe(true)
    await replay('test_setmeta_M.jsonl')
    await replay('test_setmeta_O.jsonl')
    const [g] = (await replay('test_getmeta.jsonl')).filter((x) => x.req.cmd === 15)
    expect(g.ours.body.toString('latin1')).toBe('author\x02fixrec\x01width\x02640')
    expect(g.ours.body.equals(g.rec.body)).toBe(true)
  })

  it('delete.jsonl then delete_again.jsonl (status 2, empty body) and download_nonexistent.jsonl', async () => {
    const [d] = await replay('delete.jsonl')
    expect(d.ours.status).toBe(0)
    const [d2] = await replay('delete_again.jsonl')
    expect(d2.ours.status).toBe(2)
    const [n] = await replay('download_nonexistent.jsonl')
    expect(n.ours.status).toBe(2)
  })
})
