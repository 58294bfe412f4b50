import { describe, expect, it } from 'vitest'
import { mergeMetadata, metaFromObject, metaToObject, packMetadata, parseMetaText, sortMetadata, unpackMetadata } from '../../../src/personalities/fastdfs/metadata.js'
import { loadFixture } from '../../helpers/fixtures.js'

describe('FastDFS metadata codec', () => {
  it('parses the get-meta reply from the fixture', () => {
    const c = loadFixture('fastdfs/test_getmeta.jsonl').find((x) => x.leg === 'storage')!
    // first reply: header(10) + body
    const len = Number(c.s2c.readBigInt64BE(0))
    const body = c.s2c.subarray(10, 10 + len)
    expect(metaToObject(unpackMetadata(body))).toEqual({ author: 'fixrec', width: '640' })
    expect(packMetadata(unpackMetadata(body)).equals(body)).toBe(true)
  })

  it('packs sorted, truncates names to 64 and values to 256 bytes, skips records without 0x02', () => {
    const raw = Buffer.concat([Buffer.from('b\x02two\x01nosep\x01'), Buffer.from('n'.repeat(80)), Buffer.from('\x02'), Buffer.from('v'.repeat(300)), Buffer.from('\x01a\x02one')])
    const pairs = unpackMetadata(raw)
    expect(pairs.length).toBe(3)
    const n = pairs.find((p) => p.name[0] === 0x6e)!
    expect(n.name.length).toBe(64)
    expect(n.value.length).toBe(256)
    const sorted = sortMetadata(pairs)
    expect(sorted.map((p) => p.name.toString()[0])).toEqual(['a', 'b', 'n'])
    expect(packMetadata(metaFromObject({ a: '1', b: '2' })).toString('latin1')).toBe('a\x021\x01b\x022')
    expect(unpackMetadata(Buffer.alloc(0))).toEqual([])
  })

  it('merges: new value wins, other keys kept, result sorted', () => {
    const cur = metaFromObject({ width: '160', height: '80' })
    const merged = mergeMetadata(cur, metaFromObject({ width: '640', color: 'blue' }))
    expect(merged.map((p) => p.name.toString())).toEqual(['color', 'height', 'width'])
    expect(metaToObject(merged)).toEqual({ color: 'blue', height: '80', width: '640' })
  })

  it('parses the fdfs_test k=v,k2=v2 form', () => {
    expect(metaToObject(parseMetaText('color=blue,size=1000,bad'))).toEqual({ color: 'blue', size: '1000' })
  })
})
