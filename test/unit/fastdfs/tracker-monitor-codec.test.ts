import { describe, expect, it } from 'vitest'
import { loadFixture } from '../../helpers/fixtures.js'
import {
  decodeBrief, decodeGroupStat, decodeStorageStats, encodeBrief, encodeGroupStat, encodeStorageStat,
  GROUP_STAT_SIZE, STORAGE_STAT_SIZE_V4,
} from '../../../src/personalities/fastdfs/tracker/monitor-codec.js'

/** Split a reply stream into [header, body] pairs. */
function replies(s2c: Buffer): Buffer[] {
  const out: Buffer[] = []
  let off = 0
  while (off < s2c.length) {
    const n = Number(s2c.readBigInt64BE(off))
    out.push(s2c.subarray(off + 10, off + 10 + n))
    off += 10 + n
  }
  return out
}

describe('monitor record codecs vs the real V6.16.1 bytes (fixture monitor.jsonl)', () => {
  const [conn] = loadFixture('fastdfs/monitor.jsonl')
  const [groups, storages] = replies(conn.s2c)

  it('decodes and re-encodes the 113-byte group stat byte for byte', () => {
    expect(groups.length).toBe(GROUP_STAT_SIZE)
    const g = decodeGroupStat(groups)
    expect(g.groupName).toBe('group1')
    expect(g.storageCount).toBe(2)
    expect(g.storagePort).toBe(33000)
    expect(g.subdirCount).toBe(256)
    expect(g.currentTrunkFileId).toBe(-1)
    expect(encodeGroupStat(g).equals(groups)).toBe(true)
  })

  it('decodes and re-encodes the two 487-byte storage stats byte for byte', () => {
    expect(storages.length).toBe(2 * STORAGE_STAT_SIZE_V4)
    const list = decodeStorageStats(storages)
    expect(list.map((s) => s.ip)).toEqual(['127.0.0.11', '127.0.0.12'])
    expect(list[0].status).toBe(7)
    expect(list[0].rwMode).toBe(6)
    expect(list[0].version).toBe('6.16.1')
    expect(list[0].storagePort).toBe(33000)
    expect(list[0].stats.longs).toHaveLength(42)
    const re = Buffer.concat(list.map((s) => encodeStorageStat(s, 16)))
    expect(re.equals(storages)).toBe(true)
  })

  it('brief round trip (67 bytes)', () => {
    const b = Buffer.alloc(67)
    encodeBrief({ status: 7, port: 33000, id: '127.0.0.11', ip: '127.0.0.11' }, b, 0)
    expect(decodeBrief(b)).toEqual({ status: 7, port: 33000, id: '127.0.0.11', ip: '127.0.0.11' })
  })

  it('rejects a storage list whose length fits neither record size', () => {
    expect(() => decodeStorageStats(Buffer.alloc(100))).toThrow()
  })
})
