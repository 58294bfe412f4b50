/**
 * The real bin/mogilefsd (child process) on SQLite and on MariaDB, with two
 * real bin/mogstored nodes: fixture replay (reply shapes/bytes as the reference
 * tracker gave them to real clients) and hostile input.
 */
import { rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFixture } from '../../helpers/fixtures.js'
import { tmpDir } from '../../helpers/proc.js'
import { decodeArgs } from '../../../src/personalities/mogilefs/protocol/args.js'
import { makeDb, setupCluster, startStores, startTracker, store, httpReq, TrackerClient, type Backend, type Db, type Stores, type TrackerProc } from './tracker-harness.js'

/** Request/reply line pairs of every tracker connection in a fixture. */
function exchanges(name: string): Array<{ req: string; rep: string }> {
  const out: Array<{ req: string; rep: string }> = []
  for (const c of loadFixture(`mogilefs/${name}.jsonl`).filter((c) => c.leg === 'tracker')) {
    const reqs = c.c2s.toString('latin1').split(/(?<=\n)/).filter(Boolean)
    const reps = c.s2c.toString('latin1').split(/(?<=\n)/).filter(Boolean)
    reqs.forEach((req, i) => out.push({ req, rep: reps[i] }))
  }
  return out
}

/** OK + arg names with numbers masked, or ERR + code. */
function shape(line: string | undefined): string {
  if (!line) return '<closed>'
  const ok = /^OK (\S*)\r\n$/.exec(line)
  if (ok) return 'OK ' + [...new Set(Object.keys(decodeArgs(ok[1])).map((k) => k.replace(/\d+/g, '#')))].sort().join(',')
  const err = /^ERR (\w+) \S+\r\n$/.exec(line)
  return err ? `ERR ${err[1]}` : `<bad: ${JSON.stringify(line)}>`
}

const okArgs = (line?: string) => decodeArgs(/^OK (\S*)/.exec(line ?? '')?.[1] ?? '')

describe.each<Backend>(['SQLite', 'MariaDB'])('mogilefsd on %s', (backend) => {
  let dir: string
  let st: Stores
  let db: Db
  let trk: TrackerProc
  let c: TrackerClient

  beforeAll(async () => {
    dir = tmpDir(`mogtrk-${backend}`)
    st = await startStores(dir, 2)
    db = await makeDb(backend, dir)
    trk = await startTracker(dir, db.dsn, st.mgmtPort)
    c = await TrackerClient.connect(trk.port)
    await setupCluster(c, st)
  })
  afterAll(async () => {
    c?.close()
    await trk?.daemon.stop()
    await st?.stopAll()
    await db?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('replays the recorded admin requests with the reference reply shapes', async () => {
    for (const f of ['domains', 'hosts', 'devices']) {
      for (const { req, rep } of exchanges(f)) expect(shape(await c.raw(req)), `${f}: ${req.trim()}`).toBe(shape(rep))
    }
    for (const { req, rep } of exchanges('unknown')) expect(await c.raw(req)).toBe(rep)
  })

  it('replays the recorded upload, list, info, rename and delete sessions', async () => {
    const [open, close] = exchanges('upload')
    const o = await c.raw(open.req)
    expect(shape(o)).toBe(shape(open.rep))
    const a = okArgs(o)
    const put = await httpReq('PUT', a.path_1, Buffer.alloc(1000, 7))
    expect(put.status).toBe(200)
    const closeReq = `create_close path=${a.path_1}&devid=${a.devid_1}&size=1000&domain=testdom&fid=${a.fid}&key=fixrec-key-1\r\n`
    expect(await c.raw(closeReq)).toBe(close.rep)

    for (const { req, rep } of exchanges('listkeys')) expect(okArgs(await c.raw(req))).toEqual(okArgs(rep))
    const [info, paths] = exchanges('fileinfo')
    expect({ ...okArgs(await c.raw(info.req)), fid: '' }).toEqual({ ...okArgs(info.rep), fid: '' })
    const p = okArgs(await c.raw(paths.req))
    expect(p.paths).toBe('1')
    expect(p.path1).toBe(a.path_1)
    for (const f of ['rename', 'delete']) for (const { req, rep } of exchanges(f)) expect(await c.raw(req)).toBe(rep)
    expect((await c.cmd('file_info', { domain: 'testdom', key: 'fixrec-key-2' })).code).toBe('unknown_key')
  })

  it('answers protocol details like the reference: OK with a space, callid, case, pipelining, !version', async () => {
    expect(await c.raw('noop\r\n')).toBe('OK \r\n')
    expect(await c.raw('NOOP \n')).toBe('OK \r\n')
    expect(await c.raw('noop a=1&callid=xyz\r\n')).toBe('OK callid=xyz\r\n')
    expect(await c.raw('get_paths domain=testdom&key=nosuch&callid=a%20b\r\n')).toBe('ERR unknown_key unknown_key a+b\r\n')
    expect(await c.raw('create_domain\r\n')).toBe('ERR no_domain No+domain+provided\r\n')
    expect(await c.raw('stats\r\n')).toBe('ERR unknown_command Unknown+server+command\r\n')
    c.sock.write('noop\r\n\r\nget_domains \r\nbogus\r\n')
    expect(await c.readLine()).toBe('OK \r\n')
    expect(shape(await c.readLine())).toMatch(/^OK domain/)
    expect(await c.readLine()).toBe('ERR unknown_command Unknown+server+command\r\n')
    // Malformed input is answered and logged (pino JSON in the daemon's log; the logger writes
    // asynchronously, so the line may land a moment after the reply).
    const logged = /"cmd":"bogus".*"msg":"unknown command"/
    for (let i = 0; i < 100 && !logged.test(trk.daemon.log()); i++) await new Promise((r) => setTimeout(r, 20))
    expect(trk.daemon.log()).toMatch(logged)
    expect(await c.raw('!version\r\n')).toBe('2.73\r\n')
    expect(await c.readLine()).toBe('.\r\n')
    c.sock.write('!stats\r\n')
    const stats: string[] = []
    for (let l = await c.readLine(); l !== undefined && l !== '.\r\n'; l = await c.readLine()) stats.push(l)
    expect(stats.some((l) => /^queries \d+\r\n$/.test(l))).toBe(true)
    expect(await c.raw('noop\r\n')).toBe('OK \r\n')
  })

  it('stores hostile keys faithfully or refuses them with a protocol error', async () => {
    const data = Buffer.from('hostile')
    for (const text of ["a%b&c=d", 'new\nline', 'nul\u0000x', "x'; DROP TABLE file; --", 'żółw 日本', 'k'.repeat(255)]) {
      // On the wire a key is bytes: send the UTF-8 encoding, as a Perl client would.
      const key = Buffer.from(text, 'utf8').toString('latin1')
      const s = await store(c, key, data, 'one')
      expect(s.close.line, key).toBe('OK \r\n')
      const info = await c.ok('file_info', { domain: 'testdom', key })
      expect(info.key).toBe(key)
      expect(info.length).toBe('7')
    }
    const lk = await c.ok('list_keys', { domain: 'testdom', prefix: 'x\'' })
    expect(lk.key_1).toBe("x'; DROP TABLE file; --")
    expect((await c.cmd('create_open', { domain: 'testdom', key: 'k'.repeat(256), class: 'one', multi_dest: 1 })).code).toBe('invalid_key')
    expect((await c.cmd('create_open', { domain: 'testdom', key: 'k'.repeat(10_000), class: 'one', multi_dest: 1 })).code).toBe('invalid_key')
    expect(await c.raw('file_info domain=testdom&key=bad%FF%FEutf8\r\n')).toMatch(/^ERR bad_params /)
    expect((await c.cmd('create_open', { domain: 'nosuch', key: 'x' })).code).toBe('unreg_domain')
    expect((await c.cmd('create_open', { domain: 'testdom', key: 'x', class: 'nosuch' })).code).toBe('unreg_class')
    expect((await c.cmd('list_keys', { domain: 'testdom', prefix: 'zzz-none' })).code).toBe('none_match')
  })

  it('a too-long line gets an error and a close; other clients keep being served', async () => {
    const bad = await TrackerClient.connect(trk.port)
    bad.sock.write('noop ' + 'a'.repeat(70 * 1024) + '\r\n')
    expect(await bad.readLine()).toMatch(/^ERR line_too_long /)
    expect(await bad.readLine()).toBeUndefined()
    expect(await c.raw('noop\r\n')).toBe('OK \r\n')
  })

  it('create_close: second close, size mismatch and abandoned uploads throw the fid away', async () => {
    const s = await store(c, 'twice', Buffer.from('12345'), 'one')
    expect(s.close.ok).toBe(true)
    const again = await c.cmd('create_close', { domain: 'testdom', fid: s.fid, devid: s.devid, path: s.path, key: 'twice', size: 5 })
    expect(again.code).toBe('no_temp_file')
    const bad = await store(c, 'mismatch', Buffer.from('12345'), 'one', { size: 99 })
    expect(bad.close.code).toBe('size_mismatch')
    expect(bad.close.line).toContain('Expected:+99%3B+actual:+5%3B+path:+http://')
    const retry = await c.cmd('create_close', { domain: 'testdom', fid: bad.fid, devid: bad.devid, path: bad.path, key: 'mismatch', size: 5 })
    expect(retry.code).toBe('no_temp_file')
    expect((await c.cmd('file_info', { domain: 'testdom', key: 'mismatch' })).code).toBe('unknown_key')
    const o = await c.ok('create_open', { domain: 'testdom', key: 'wrongpath', class: 'one', multi_dest: 1 })
    expect((await c.cmd('create_close', { domain: 'testdom', fid: o.fid, devid: o.devid_1, path: 'http://1.2.3.4/x', key: 'wrongpath' })).code).toBe('bogus_args')
    const missing = await c.cmd('create_close', { domain: 'testdom', fid: o.fid, devid: o.devid_1, path: o.path_1, key: 'wrongpath', size: 1 })
    expect(missing.code).toBe('size_verify_error')
  })

  it('checksums: stored for a hashtype class, verified on request', async () => {
    await c.ok('create_class', { domain: 'testdom', class: 'md5c', mindevcount: 1, hashtype: 'MD5' })
    const data = Buffer.from('checksummed body')
    const md5 = (await import('node:crypto')).createHash('md5').update(data).digest('hex')
    const good = await store(c, 'sum-ok', data, 'md5c', { checksum: `MD5:${md5}`, checksumverify: 1 })
    expect(good.close.line).toBe('OK \r\n')
    expect((await c.ok('file_info', { domain: 'testdom', key: 'sum-ok' })).checksum).toBe(`MD5:${md5}`)
    const bad = await store(c, 'sum-bad', data, 'md5c', { checksum: `MD5:${'0'.repeat(32)}`, checksumverify: 1 })
    expect(bad.close.code).toBe('checksum_mismatch')
    expect((await store(c, 'sum-fmt', data, 'md5c', { checksum: 'MD5:xyz' })).close.code).toBe('invalid_checksum_format')
  })

  it('admin errors and echoes match the reference', async () => {
    expect((await c.cmd('create_domain', { domain: 'testdom' })).code).toBe('domain_exists')
    expect(await c.ok('create_domain', { domain: 'd2' })).toEqual({ domain: 'd2' })
    expect(await c.ok('create_class', { domain: 'd2', class: 'c', mindevcount: 3 })).toEqual({ class: 'c', mindevcount: '3', domain: 'd2' })
    expect((await c.cmd('create_class', { domain: 'd2', class: 'c', mindevcount: 3 })).code).toBe('class_exists')
    expect((await c.cmd('create_class', { domain: 'd2', class: 'c2', mindevcount: 0 })).code).toBe('invalid_mindevcount')
    expect((await c.cmd('delete_domain', { domain: 'd2' })).code).toBe('domain_has_classes')
    expect((await c.cmd('delete_class', { domain: 'd2', class: 'default' })).code).toBe('nodel_default_class')
    await c.ok('delete_class', { domain: 'd2', class: 'c' })
    await c.ok('delete_domain', { domain: 'd2' })
    expect((await c.cmd('delete_domain', { domain: 'testdom' })).code).toBe('domain_has_files')
    expect((await c.cmd('create_host', { host: 'dupip', ip: st.ips[0], port: 1 })).code).toBe('dup')
    expect((await c.cmd('create_host', { host: 'store1', ip: '127.0.0.99', port: 1 })).code).toBe('host_exists')
    expect((await c.cmd('create_device', { hostname: 'store1', devid: 1 })).code).toBe('existing_devid')
    expect((await c.cmd('delete_host', { host: 'store1' })).code).toBe('host_not_empty')
    expect((await c.cmd('set_state', { host: 'store2', device: 1, state: 'down' })).code).toBe('host_mismatch')
    expect((await c.cmd('set_server_setting', { key: 'bogus', value: 1 })).code).toBe('not_writable')
    await c.ok('set_server_setting', { key: 'case_sensitive_list_keys', value: 'on' })
    expect(await c.ok('server_setting', { key: 'case_sensitive_list_keys' })).toEqual({ key: 'case_sensitive_list_keys', value: '1' })
  })

  it('single-dest create_open, updateclass, file_debug and list_fids answer in the reference shape', async () => {
    const o = await c.ok('create_open', { domain: 'testdom', key: 'single', class: 'one' })
    expect(Object.keys(o).sort()).toEqual(['devid', 'fid', 'path'])
    expect((await httpReq('PUT', o.path, Buffer.from('abc'))).status).toBe(200)
    expect(await c.raw(`create_close domain=testdom&fid=${o.fid}&devid=${o.devid}&path=${o.path}&key=single&size=3\r\n`)).toBe('OK \r\n')
    await c.ok('updateclass', { domain: 'testdom', key: 'single', class: 'two' })
    expect((await c.ok('file_info', { domain: 'testdom', key: 'single' })).class).toBe('two')
    expect((await c.cmd('updateclass', { domain: 'testdom', key: 'single', class: 'nosuch' })).code).toBe('class_not_found')
    const dbg = await c.ok('file_debug', { fid: o.fid })
    expect(dbg.fid_dkey).toBe('single')
    expect(dbg[`devpath_${o.devid}`]).toBe(o.path)
    expect(await c.ok('file_debug', { fid: 999999 })).toEqual({ checksum: 'NONE' })
    const lf = await c.ok('list_fids', { from: Number(o.fid) - 1, to: 1 })
    expect(lf).toMatchObject({ fid_count: '1', fid_1_fid: o.fid, fid_1_key: 'single', fid_1_length: '3' })
    await c.ok('update_class', { domain: 'testdom', class: 'default', mindevcount: 3 })
    const doms = await c.ok('get_domains')
    const names = Object.keys(doms).filter((k) => /^domain\d+class\d+name$/.test(k) && doms[k] === 'default')
    expect(names.length).toBeGreaterThan(0)
  })

  it('survives random garbage lines and keeps answering every client', async () => {
    const g = await TrackerClient.connect(trk.port)
    let seed = 42
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    const cmds = ['create_open', 'create_close', 'get_paths', 'delete', 'rename', 'list_keys', 'file_info', 'create_host', 'set_state', 'xyz', '']
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.alloc(Math.floor(rnd() * 200), 0)
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256)
      const line = `${cmds[i % cmds.length]} ${bytes.toString('latin1').replace(/[\r\n]/g, '')}\r\n`
      const reply = await g.raw(line)
      expect(reply, JSON.stringify(line)).toMatch(/^(OK |ERR \w+ )/)
    }
    expect(await g.raw('noop\r\n')).toBe('OK \r\n')
    expect(await c.raw('noop\r\n')).toBe('OK \r\n')
    g.close()
  })
})
