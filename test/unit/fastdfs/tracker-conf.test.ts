import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfFile } from '../../../src/config/conf-file.js'
import { loadTrackerConf, trackerConfFrom } from '../../../src/personalities/fastdfs/tracker/tracker-conf.js'

const parse = (t: string) => trackerConfFrom(ConfFile.parse(t, 'tracker.conf'))

describe('tracker.conf', () => {
  it('reads the keys we use with stock defaults, ignores unknown keys', () => {
    const c = parse('base_path = /tmp/x\nport = 32122\nbind_addr = 127.0.0.10\nreserved_storage_space = 1%\nwork_threads = 4\nsome_future_key = 1\n')
    expect(c).toMatchObject({ basePath: '/tmp/x', port: 32122, bindAddr: '127.0.0.10', storeLookup: 2, storeServer: 0, storePath: 0, downloadServer: 0 })
    expect(c.reservedText).toBe('1.00%')
    expect(c.syncFileMaxDelay).toBe(86400)
    expect(c.syncFileMaxTime).toBe(300)
    expect(c.idTypeInFilename).toBe('ip')
    expect(c.responseIpAddrSize).toBe('auto')
  })

  it('prints an absolute reserved space in MB like the real tracker', () => {
    expect(parse('base_path = /tmp/x\nreserved_storage_space = 2G\n').reservedText).toBe('2048MB')
    expect(parse('base_path = /tmp/x\n').reservedText).toBe('20.00%')
  })

  it('bad values fail with file:line:key', () => {
    expect(() => parse('base_path = /tmp/x\nstore_lookup = 7\n')).toThrow(/tracker\.conf:2: key "store_lookup"/)
    expect(() => parse('base_path = /tmp/x\nstore_path = 1\n')).toThrow(/store_path/)
    expect(() => parse('base_path = /tmp/x\nport = http\n')).toThrow(/port/)
    expect(() => parse('base_path = relative\n')).toThrow(/absolute/)
    expect(() => parse('port = 1\n')).toThrow(/base_path/)
    expect(() => parse('base_path = /tmp/x\nstore_lookup = 1\n')).toThrow(/store_group/)
    expect(() => parse('base_path = /tmp/x\nresponse_ip_addr_size = 17\n')).toThrow(/response_ip_addr_size/)
  })

  it('loads storage_ids.conf relative to the conf file when use_storage_id is on', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tconf-'))
    writeFileSync(path.join(dir, 'storage_ids.conf'), '100001 group1 127.0.0.1:33000\n')
    writeFileSync(path.join(dir, 'tracker.conf'), `base_path = ${dir}\nuse_storage_id = true\nid_type_in_filename = id\n`)
    const c = loadTrackerConf(path.join(dir, 'tracker.conf'))
    expect(c.storageIds.map((e) => e.id)).toEqual(['100001'])
    expect(c.idTypeInFilename).toBe('id')
  })
})
