/**
 * Our fdfs_* client tools as real processes against our fdfs_trackerd and
 * fdfs_storaged (both real child processes): output lines and exit codes as
 * the V6.16.1 tools print them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crc32 } from '../../../src/engine/crc32.js'
import { decodeStorageStats } from '../../../src/personalities/fastdfs/tracker/monitor-codec.js'
import { startTestStorage, type TestStorage } from '../../helpers/fdfs-raw.js'
import { groupBuf, RawFdfs } from '../../helpers/fdfs-tracker-raw.js'
import { freePort, runCli, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

let dir: string
let tracker: Daemon
let storage: TestStorage
let conf: string
let trackerPort: number
const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 256))

async function waitActive(): Promise<void> {
  const c = await RawFdfs.connect(trackerPort)
  try {
    for (let i = 0; i < 400; i++) {
      const r = await c.call(92, groupBuf('group1'))
      if (r?.status === 0 && decodeStorageStats(r.body).some((s) => s.status === 7)) return
      await new Promise((res) => setTimeout(res, 50))
    }
    throw new Error('storage never became ACTIVE')
  } finally {
    c.close()
  }
}

beforeAll(async () => {
  dir = tmpDir('fdfs-cli')
  mkdirSync(path.join(dir, 'tbase'))
  trackerPort = await freePort()
  writeFileSync(path.join(dir, 'tracker.conf'), `base_path = ${dir}/tbase\nbind_addr = 127.0.0.1\nport = ${trackerPort}\nreserved_storage_space = 1%\n`)
  tracker = spawnDaemon('tracker', 'fdfs_trackerd', [path.join(dir, 'tracker.conf'), '--foreground'], dir)
  await waitForPort('127.0.0.1', trackerPort)
  storage = await startTestStorage('fdfs-cli-storage', '', trackerPort)
  await waitActive()
  conf = path.join(dir, 'client.conf')
  writeFileSync(conf, `connect_timeout = 5\nnetwork_timeout = 60\nbase_path = ${dir}\ntracker_server = 127.0.0.1:${trackerPort}\nlog_level = info\n`)
  writeFileSync(path.join(dir, 'payload.bin'), payload)
  writeFileSync(path.join(dir, 'hw.txt'), 'hello world\n')
  writeFileSync(path.join(dir, 'more.txt'), 'more\n')
}, 60_000)

afterAll(async () => {
  await storage?.daemon.stop()
  await tracker?.stop()
})

const cli = (cmd: string, args: string[]) => runCli(cmd, args, { cwd: dir })

describe('fdfs_* tools against our tracker + storage', () => {
  let fileId = ''

  it('fdfs_upload_file prints the file id; fdfs_download_file gets the bytes back (whole and a range)', async () => {
    const up = await cli('fdfs_upload_file', [conf, path.join(dir, 'payload.bin')])
    expect(up.code).toBe(0)
    expect(up.stderr).toBe('')
    fileId = up.stdout.trim()
    expect(fileId).toMatch(/^group1\/M00\/[0-9A-F]{2}\/[0-9A-F]{2}\/[A-Za-z0-9_-]{27}\d{3}\.bin$/)
    const dl = await cli('fdfs_download_file', [conf, fileId, path.join(dir, 'out.bin')])
    expect(dl.code).toBe(0)
    expect(readFileSync(path.join(dir, 'out.bin')).equals(payload)).toBe(true)
    await cli('fdfs_download_file', [conf, fileId, path.join(dir, 'part.bin'), '10', '20'])
    expect(readFileSync(path.join(dir, 'part.bin')).equals(payload.subarray(10, 30))).toBe(true)
    // no local name: the last component of the id, in the cwd
    await cli('fdfs_download_file', [conf, fileId])
    expect(readFileSync(path.join(dir, fileId.split('/').pop()!)).equals(payload)).toBe(true)
  })

  it('fdfs_file_info decodes a normal file locally and prints the V6.16.1 layout', async () => {
    const r = await cli('fdfs_file_info', [conf, fileId])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines.slice(0, 5)).toEqual(['GET FROM SERVER: false', '', 'file type: normal', 'source storage id: 0', 'source ip address: 127.0.0.1'])
    expect(lines[5]).toMatch(/^file create timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    expect(lines[6]).toBe('file size: 100000')
    const c = crc32(payload)
    expect(lines[7]).toBe(`file crc32: ${c | 0} (0x${c.toString(16).padStart(8, '0')})`)
    const short = await cli('fdfs_file_info', [conf, 'group1/M00/00/00/xxxx.bin'])
    expect(short.code).toBe(0)
    expect(short.stderr).toContain('query file info fail, error no: 22, error info: Invalid argument')
  })

  it('fdfs_crc32 matches the CRC in the name', async () => {
    const r = await cli('fdfs_crc32', [path.join(dir, 'payload.bin')])
    expect(r.stdout).toBe(`${crc32(payload).toString(16).padStart(8, '0')}\n`)
  })

  it('fdfs_upload_appender + fdfs_append_file, file info from the server', async () => {
    const up = await cli('fdfs_upload_appender', [conf, path.join(dir, 'hw.txt')])
    expect(up.code).toBe(0)
    const id = up.stdout.trim()
    const ap = await cli('fdfs_append_file', [conf, id, path.join(dir, 'more.txt')])
    expect(ap.code).toBe(0)
    const info = await cli('fdfs_file_info', [conf, id])
    expect(info.stdout).toContain('GET FROM SERVER: true\n\nfile type: appender\n')
    expect(info.stdout).toContain('file size: 17\n')
    await cli('fdfs_download_file', [conf, id, path.join(dir, 'app.txt')])
    expect(readFileSync(path.join(dir, 'app.txt'), 'utf8')).toBe('hello world\nmore\n')
  })

  it('fdfs_test upload / setmeta / getmeta / query_servers / delete', async () => {
    const up = await cli('fdfs_test', [conf, 'upload', path.join(dir, 'payload.bin')])
    expect(up.code).toBe(0)
    expect(up.stdout).toContain('This is FastDFS client test program v6.16.1')
    expect(up.stdout).toContain('storage_upload_by_filename\n')
    expect(up.stdout).toContain('storage_upload_slave_by_filename\n')
    const m = /group_name=group1, remote_filename=(\S+)\n/.exec(up.stdout)!
    const remote = m[1]
    expect(up.stdout).toContain(`remote_filename=${remote.replace(/\.bin$/, '')}_big.bin`)
    const sm = await cli('fdfs_test', [conf, 'setmeta', 'group1', remote, 'M', 'color=blue,size=1000'])
    expect(sm.stdout).toContain('set meta data success\n')
    const gm = await cli('fdfs_test', [conf, 'getmeta', 'group1', remote])
    expect(gm.stdout).toContain('get meta data success, meta count=6\ncolor=blue\next_name=jpg\nfile_size=115120\nheight=80\nsize=1000\nwidth=160\n')
    const qs = await cli('fdfs_test', [conf, 'query_servers', 'group1', remote])
    expect(qs.stdout).toMatch(/server list \(1\):\n\t127\.0\.0\.1:\d+\n\n$/)
    const del = await cli('fdfs_test', [conf, 'delete', 'group1', remote])
    expect(del.stdout).toContain('delete file success\n')
    const del2 = await cli('fdfs_test', [conf, 'delete', 'group1', remote])
    expect(del2.stdout).toContain('delete file fail, error no: 2, error info: No such file or directory\n')
    expect(del2.code).toBe(0)
  })

  it('fdfs_monitor prints the group and storage sections', async () => {
    const r = await cli('fdfs_monitor', [conf])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`tracker server count=1, current server index=0\n\ntracker server is 127.0.0.1:${trackerPort}\n\ngroup count: 1\n\nGroup 1:\ngroup name = group1\n`)
    expect(r.stdout).toMatch(/\t\thost = 127\.0\.0\.1:\d+ {2}ACTIVE\n\t\tread write mode = both \(normal\)\n\t\tversion = 6\.16\.1\n/)
    expect(r.stdout).toContain('\t\tstotal_download_bytes = ')
    const bad = await cli('fdfs_monitor', [conf, '-h', '127.0.0.99:1'])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toContain('tracker server: 127.0.0.99:1 not exists!')
  })

  it('fdfs_delete_file exits 0 then 2; fdfs_download_file of a missing file prints the error and exits 0', async () => {
    expect((await cli('fdfs_delete_file', [conf, fileId])).code).toBe(0)
    const again = await cli('fdfs_delete_file', [conf, fileId])
    expect(again.code).toBe(2)
    expect(again.stdout).toBe('delete file fail, error no: 2, error info: No such file or directory\n')
    const dl = await cli('fdfs_download_file', [conf, fileId, path.join(dir, 'gone.bin')])
    expect(dl.code).toBe(0)
    expect(dl.stdout).toBe('download file fail, error no: 2, error info: No such file or directory\n')
  })

  it('usage lines exit 1, a missing conf exits 2, a large upload shows no progress bar without a TTY', async () => {
    const u = await cli('fdfs_upload_file', [])
    expect(u.code).toBe(1)
    expect(u.stdout).toBe('Usage: fdfs_upload_file <config_file> <local_filename> [storage_ip:port] [store_path_index]\n')
    expect((await cli('fdfs_download_file', [])).code).toBe(1)
    expect((await cli('fdfs_crc32', [])).code).toBe(1)
    expect((await cli('fdfs_upload_file', [path.join(dir, 'nope.conf'), 'x'])).code).toBe(2)
    const missing = await cli('fdfs_upload_file', [conf, path.join(dir, 'no-such-file')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('upload file fail, error no: 2, error info: No such file or directory')
    const big = Buffer.alloc(9 * 1024 * 1024, 7)
    writeFileSync(path.join(dir, 'big.bin'), big)
    const r = await cli('fdfs_upload_file', [conf, path.join(dir, 'big.bin')])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
  })
})
