import { describe, expect, it } from 'vitest'
import { findStorageIdByAddr, parseStorageIds, RW_MODE } from '../../../src/personalities/fastdfs/storage-ids.js'

describe('storage_ids.conf parser', () => {
  const text = `# comment
100001   group1  192.168.0.196
100002\tgroup1  127.0.0.1:33001
100003   group1  [2409:8a20:42d:2f40:587a:4c47:72c0:ad8e]:23001  rw=none

100004   group2  10.0.0.4 rw=Read
`
  it('parses ids, groups, addresses, optional port and rw mode', () => {
    const ids = parseStorageIds(text, 'ids.conf')
    expect(ids.map((e) => e.id)).toEqual(['100001', '100002', '100003', '100004'])
    expect(ids[0]).toMatchObject({ group: 'group1', ip: '192.168.0.196', port: undefined, rwMode: RW_MODE.BOTH })
    expect(ids[1]).toMatchObject({ ip: '127.0.0.1', port: 33001 })
    expect(ids[2]).toMatchObject({ ip: '2409:8a20:42d:2f40:587a:4c47:72c0:ad8e', port: 23001, rwMode: RW_MODE.NONE })
    expect(ids[3]).toMatchObject({ group: 'group2', rwMode: RW_MODE.READ })
  })

  it('finds by ip:port, an entry without port matching any port', () => {
    const ids = parseStorageIds(text)
    expect(findStorageIdByAddr(ids, '127.0.0.1', 33001)?.id).toBe('100002')
    expect(findStorageIdByAddr(ids, '127.0.0.1', 33000)).toBeUndefined()
    expect(findStorageIdByAddr(ids, '192.168.0.196', 1234)?.id).toBe('100001')
    expect(findStorageIdByAddr(ids, '192.168.0.196', 1234, 'group2')).toBeUndefined()
  })

  it('rejects bad lines with file:line', () => {
    expect(() => parseStorageIds('100001 group1', 'x.conf')).toThrow(/x\.conf:1/)
    expect(() => parseStorageIds('\n100001 group1 1.2.3.4 rw=maybe', 'x.conf')).toThrow(/x\.conf:2.*rw/)
    expect(() => parseStorageIds('1 g 1.2.3.4\n1 g 1.2.3.5', 'x.conf')).toThrow(/duplicate/)
    expect(() => parseStorageIds('1 g 1.2.3.4:99999', 'x.conf')).toThrow(/port/)
    expect(() => parseStorageIds('1 g/x 1.2.3.4', 'x.conf')).toThrow(/group/)
  })
})
