import { describe, expect, it } from 'vitest'
import {
  decodeFileName,
  encodeBase64Part,
  encodeFileName,
  FileIdError,
  formatExtPart,
  isAppenderName,
  joinFileId,
  parseFileId,
  sizeWord,
  slaveName,
  tryDecodeFileName,
} from '../../../src/personalities/fastdfs/file-id.js'
import { loadFixture } from '../../helpers/fixtures.js'

const fixedRandom = () => 0.5

describe('FastDFS file ids', () => {
  it('decodes the spec example (IPv4 source 127.0.0.11)', () => {
    const { group, remote } = parseFileId('group1/M00/00/00/fwAAC2sCVP2AetzHAA9CQOMZSSA356.bin')
    expect(group).toBe('group1')
    const d = decodeFileName(remote)
    expect(d.sourceIp).toBe('127.0.0.11')
    expect(d.sourceId).toBeUndefined()
    expect(d.size).toBe(1_000_000)
    expect(d.appender).toBe(false)
    expect(d.slave).toBe(false)
    expect(d.ext).toBe('bin')
    expect(d.storePathIndex).toBe(0)
    expect(d.trueName).toBe('00/00/fwAAC2sCVP2AetzHAA9CQOMZSSA356.bin')
  })

  it('decodes the fixture names: normal upload (1000 bytes, crc of payload) and appender', () => {
    const n = decodeFileName('M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin')
    expect(n).toMatchObject({ sourceIp: '127.0.0.11', size: 1000, appender: false, subHigh: 0, subLow: 0x20, ext: 'bin' })
    const a = decodeFileName('M00/00/20/fwAADGsCbDeEKin4AAAAAHTj-0E139.bin')
    expect(a).toMatchObject({ sourceIp: '127.0.0.12', size: 0, appender: true })
    expect(a.crc32).toBe(n.crc32)
    expect(isAppenderName('M00/00/20/fwAADGsCbDeEKin4AAAAAHTj-0E139.bin')).toBe(true)
    expect(isAppenderName('M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin')).toBe(false)
    const s = decodeFileName('M00/00/20/fwAAC2sCbEOAJ1ueAAAD6HTj-0E598_big.bin')
    expect(s.slave).toBe(true)
    expect(s.ext).toBe('bin')
  })

  it('decodes every remote filename that appears in the fixture replies', () => {
    const names = new Set<string>()
    for (const f of ['upload.jsonl', 'upload_appender.jsonl', 'test_upload.jsonl']) {
      for (const c of loadFixture(`fastdfs/${f}`)) {
        for (const m of c.s2c.toString('latin1').matchAll(/M00\/[0-9A-F]{2}\/[0-9A-F]{2}\/[A-Za-z0-9_.-]+/g)) names.add(m[0])
      }
    }
    expect(names.size).toBeGreaterThanOrEqual(3)
    for (const n of names) {
      const d = decodeFileName(n)
      expect(['127.0.0.11', '127.0.0.12']).toContain(d.sourceIp)
      expect(d.timestamp).toBeGreaterThan(1_790_000_000)
    }
  })

  it('round-trips encode/decode for IPv4 and numeric ids', () => {
    const r = encodeFileName({ storePathIndex: 1, subHigh: 0xab, subLow: 0x0c, source: '127.0.0.11', timestamp: 1795323191, size: 1000, crc32: 0xdeadbeef, ext: 'jpg', random: fixedRandom })
    expect(r).toMatch(/^M01\/AB\/0C\/[A-Za-z0-9_-]{27}555\.jpg$/)
    expect(r.length).toBe(44)
    expect(decodeFileName(r)).toMatchObject({ sourceIp: '127.0.0.11', timestamp: 1795323191, size: 1000, crc32: 0xdeadbeef, storePathIndex: 1 })
    const id = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: 100001, timestamp: 1, size: 5, crc32: 1, ext: '', random: fixedRandom })
    expect(id.slice(10, 15)).toBe('oYYBA')
    expect(id.slice(37)).toBe('5555555')
    expect(decodeFileName(id)).toMatchObject({ sourceId: 100001, source: '100001', ext: '' })
    const app = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: '10.0.0.1', timestamp: 1, size: 77, crc32: 1, ext: 'bin', appender: true })
    expect(decodeFileName(app)).toMatchObject({ appender: true, size: 0 })
    const big = encodeFileName({ storePathIndex: 0, subHigh: 0, subLow: 0, source: '10.0.0.1', timestamp: 1, size: 5 * 2 ** 32, crc32: 1, ext: 'bin' })
    expect(decodeFileName(big).size).toBe(5 * 2 ** 32)
  })

  it('decodes the 20 name bytes exactly as a base64url decode does, for random words', () => {
    // Reference: Buffer's base64url decoder and BigInt arithmetic on the size word, as the C code does.
    let seed = 12345
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    for (let n = 0; n < 3000; n++) {
      const raw = Buffer.alloc(20)
      for (let i = 0; i < 20; i++) raw[i] = Math.floor(rnd() * 256)
      // Make a third of the names carry the appender flag, a third a clear top bit and a small high half.
      if (n % 3 === 1) raw[8] = (raw[8] | 0x04) & 0x7f
      if (n % 3 === 2) raw[8] = raw[9] = 0
      const remote = `M00/1A/2B/${raw.toString('base64url')}123.bin`
      const d = decodeFileName(remote)
      const word = raw.readBigUInt64BE(8)
      const appender = (word & (1n << 58n)) !== 0n
      const size = appender ? 0 : word >> 63n !== 0n ? Number(word & 0xffffffffn) : word <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(word) : -1
      expect(d.timestamp).toBe(raw.readUInt32BE(4))
      expect(d.crc32).toBe(raw.readUInt32BE(16))
      expect(d.appender).toBe(appender)
      expect(d.size).toBe(size)
      expect(BigInt(d.sizeWordHi) * 2n ** 32n + BigInt(d.sizeWordLo)).toBe(word)
      const le = raw.readUInt32LE(0)
      expect(d.source).toBe(le >= 1 && le <= 0xffffff ? String(le) : `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`)
    }
    // Not base64url: '+', '/', '=', non-ASCII, and a 27-char run with a bad last char.
    for (const bad of ['+', '/', '=', 'é', '.']) {
      const name = `M00/00/00/fwAAC2sCVP2AetzHAA9CQOMZSS${bad}356.bin`
      expect(() => decodeFileName(name), name).toThrow(FileIdError)
    }
  })

  it('encodeFileName builds the same 20 bytes as encodeBase64Part(sizeWord(...)) for every kind of size and source', () => {
    let seed = 7
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const sizes: Array<number | bigint> = [0, 1, 4096, 0xffffffff, 0x100000000, 2 ** 40 + 5, 123n, 2n ** 33n, -1]
    for (const source of ['127.0.0.11', '10.1.2.3', 100001, '200002']) {
      for (const size of sizes) {
        for (const appender of [false, true]) {
          const at = seed
          const name = encodeFileName({ storePathIndex: 1, subHigh: 2, subLow: 3, source, timestamp: 1_700_000_123, size, crc32: 0xdeadbeef, appender, ext: 'bin', random: rnd })
          seed = at // the same random draws for the reference
          const word = sizeWord(size, appender, rnd)
          const ref = encodeBase64Part(source, 1_700_000_123, word, 0xdeadbeef)
          expect(name.slice(10, 37), `${source} ${size} ${appender}`).toBe(ref)
          expect(name.slice(37)).toBe(formatExtPart('bin', rnd))
        }
      }
    }
  })

  it('formats ext parts like the C server (digits + .ext, 7 digits without ext, max 6)', () => {
    expect(formatExtPart('bin', fixedRandom)).toBe('555.bin')
    expect(formatExtPart('abcdef', fixedRandom)).toBe('.abcdef')
    expect(formatExtPart('', fixedRandom)).toBe('5555555')
    expect(() => formatExtPart('abcdefg')).toThrow(FileIdError)
    expect(() => formatExtPart('a/b')).toThrow(FileIdError)
    expect(() => formatExtPart('bin-m')).toThrow(FileIdError)
  })

  it('builds slave names', () => {
    const m = 'M00/00/20/fwAAC2sCbEOAJ1ueAAAD6HTj-0E598.bin'
    expect(slaveName(m, '_big', 'bin')).toBe('M00/00/20/fwAAC2sCbEOAJ1ueAAAD6HTj-0E598_big.bin')
    expect(slaveName(m, '_big')).toBe('M00/00/20/fwAAC2sCbEOAJ1ueAAAD6HTj-0E598_big.bin')
    expect(slaveName(m, '_s', '')).toBe('M00/00/20/fwAAC2sCbEOAJ1ueAAAD6HTj-0E598_s')
    expect(() => slaveName(m, '', 'bin')).toThrow(FileIdError)
    expect(() => slaveName(m, '../x', 'bin')).toThrow(FileIdError)
    expect(() => slaveName('short', '_a', 'bin')).toThrow(FileIdError)
    expect(() => slaveName(m, '', 'bin-m')).toThrow(FileIdError) // would be the master's metadata file
    expect(() => slaveName(m, '_x-m', '')).toThrow(FileIdError)
  })

  it('rejects malformed names', () => {
    const good = 'M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin'
    const bad = [
      '',
      'M00/00/20/../../../../etc/passwd12345678901234',
      'M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212/bin',
      'M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-..212.bin',
      'M0G/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin',
      'M00/0a/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin',
      'X00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin',
      'M00/00/20/fwAAC2sCbC6Aak2UAAAD6HT*-0E212.bin',
      'M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.b n',
      'M00/00/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E21',
      'M00//0/20/fwAAC2sCbC6Aak2UAAAD6HTj-0E212.bin',
      good + 'x'.repeat(200),
    ]
    for (const b of bad) {
      expect(() => decodeFileName(b), b).toThrow(FileIdError)
      expect(tryDecodeFileName(b)).toBeUndefined()
    }
    expect(() => parseFileId('nogroup')).toThrow(FileIdError)
    expect(() => parseFileId('/M00/x')).toThrow(FileIdError)
    expect(() => parseFileId('a'.repeat(17) + '/' + good)).toThrow(FileIdError)
    expect(joinFileId('group1', good)).toBe('group1/' + good)
  })
})
