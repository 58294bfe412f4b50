/**
 * storage.conf parsing on real files: defaults, relative paths against the conf
 * file, repeated tracker_server, unknown keys, includes, storage ids and errors.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadStorageConfig, resolveStorageId } from '../../../src/personalities/fastdfs/storage/storage-conf.js'
import { ROOT, tmpDir } from '../../helpers/proc.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function write(text: string): string {
  const dir = tmpDir('fdfs-conf')
  dirs.push(dir)
  mkdirSync(path.join(dir, 'etc'))
  const f = path.join(dir, 'etc', 'storage.conf')
  writeFileSync(f, text)
  return f
}

describe('storage.conf', () => {
  it('reads the shipped sample', () => {
    const c = loadStorageConfig(path.join(ROOT, 'conf', 'storage.conf'))
    expect(c).toMatchObject({ groupName: 'group1', port: 23000, basePath: '/var/fdfs', storePaths: ['/var/fdfs'], subdirCount: 256, heartBeatInterval: 30, statReportInterval: 60, fsync: 'never', distributeMode: 0, rotateCount: 100 })
    expect(c.reserved).toEqual({ ratio: 0.2 })
    expect(c.pidFile).toBe('/var/fdfs/data/fdfs_storaged.pid')
    expect(c.logFile).toBe('/var/fdfs/logs/storaged.log')
  })

  it('resolves relative paths against the conf file, repeats tracker_server, ignores unknown keys', () => {
    const f = write(['group_name = g2', 'base_path = ../base', 'store_path_count = 2', 'store_path0 = ../d0', 'store_path1 = /abs/d1', 'tracker_server = 127.0.0.10:22122', 'tracker_server = 127.0.0.11', 'fsync_after_written_bytes = 1M', 'reserved_storage_space = 10G', 'use_io_uring = false', 'disk_rw_separated = true'].join('\n'))
    const c = loadStorageConfig(f)
    const dir = path.dirname(path.dirname(f))
    expect(c.basePath).toBe(path.join(dir, 'base'))
    expect(c.storePaths).toEqual([path.join(dir, 'd0'), '/abs/d1'])
    expect(c.trackers).toEqual([{ host: '127.0.0.10', port: 22122 }, { host: '127.0.0.11', port: 22122 }])
    expect(c.fsync).toBe('always')
    expect(c.reserved).toEqual({ bytes: 10 * 1024 ** 3 })
  })

  it('store_path0 defaults to base_path; errors name the key', () => {
    expect(loadStorageConfig(write('base_path = /b\ntracker_server = 1.2.3.4:1\n')).storePaths).toEqual(['/b'])
    expect(() => loadStorageConfig(write('base_path = /b\n'))).toThrow(/tracker_server/)
    expect(() => loadStorageConfig(write('tracker_server = 1.2.3.4:1\n'))).toThrow(/base_path/)
    expect(() => loadStorageConfig(write('base_path = /b\ntracker_server = 1.2.3.4:1\nstore_path_count = 2\n'))).toThrow(/store_path1/)
    expect(() => loadStorageConfig(write('base_path = /b\ntracker_server = 1.2.3.4:1\ngroup_name = a/b\n'))).toThrow(/group_name/)
    expect(() => loadStorageConfig(write('base_path = /b\ntracker_server = 1.2.3.4:1\nport = 70000\n'))).toThrow(/port/)
  })

  it('finds its storage id by group and ip[:port], or takes the id key', () => {
    const c = loadStorageConfig(write('base_path = /b\ntracker_server = 1.2.3.4:1\nport = 23001\nuse_storage_id = true\n'))
    const ids = '# c\n100001 group1 10.0.0.1\n100002 group1 10.0.0.2:23000\n100003 group1 10.0.0.2:23001 rw=read\n'
    expect(resolveStorageId(c, ids, '10.0.0.1')).toBe('100001')
    expect(resolveStorageId(c, ids, '10.0.0.2')).toBe('100003')
    expect(resolveStorageId(c, ids, '10.0.0.9')).toBeUndefined()
    expect(resolveStorageId({ ...c, id: '7' }, ids, '10.0.0.9')).toBe('7')
  })
})
