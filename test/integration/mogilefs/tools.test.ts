/**
 * Our MogileFS tools end to end against OUR tracker (`bin/mogilefsd`, SQLite
 * in a temp dir) and two OUR storage nodes (`bin/mogstored` on 127.0.0.1 and
 * 127.0.0.2, as hosts need distinct IPs): mogadm setup/listing/check,
 * mogupload (file and stdin), mogfetch, mogfileinfo, moglistkeys, moglistfids,
 * mogrename, mogfiledebug, mogdelete, mogstats (SQLite DSN), error exits.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, runCli, spawnDaemon, tmpDir, waitForPort, type Daemon } from '../../helpers/proc.js'

let dir: string
const daemons: Daemon[] = []
let T: string
let env: NodeJS.ProcessEnv
const payload = randomBytes(3 * 1024 * 1024 + 17)

async function until(what: string, f: () => Promise<boolean>): Promise<void> {
  // Polls a condition driven by the tracker's background workers (monitor, replicator).
  for (let i = 0; i < 300; i++) {
    if (await f()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const mogadm = (...a: string[]) => runCli('mogadm', [T, ...a])

beforeAll(async () => {
  dir = tmpDir('mogtools')
  const port = await freePort()
  const mgmtPort = await freePort()
  const httpPort = await freePort()
  for (const [i, ip] of [[1, '127.0.0.1'], [2, '127.0.0.2']] as const) {
    const docroot = path.join(dir, `store${i}`)
    mkdirSync(path.join(docroot, `dev${i}`), { recursive: true })
    daemons.push(spawnDaemon(`mogstored${i}`, 'mogstored', [`--httplisten=${ip}:${httpPort}`, `--mgmtlisten=${ip}:${mgmtPort}`, `--docroot=${docroot}`, `--pidfile=${path.join(dir, `st${i}.pid`)}`], dir))
    await waitForPort(ip, httpPort)
  }
  daemons.push(spawnDaemon('mogilefsd', 'mogilefsd', [`--listen=127.0.0.1:${port}`, `--mogstored_stream_port=${mgmtPort}`, `--db_dsn=DBI:SQLite:dbname=${path.join(dir, 'mog.sqlite')}`, `--pidfile=${path.join(dir, 'trk.pid')}`], dir))
  await waitForPort('127.0.0.1', port)
  T = `--trackers=127.0.0.1:${port}`
  const conf = path.join(dir, 'mogilefs.conf')
  writeFileSync(conf, `trackers = 127.0.0.1:${port}\ndomain = tdom\n`)
  env = { MOGUTILSCONF: conf, HOME: dir }
  for (const [i, ip] of [[1, '127.0.0.1'], [2, '127.0.0.2']] as const) {
    expect((await mogadm('host', 'add', `s${i}`, `--ip=${ip}`, `--port=${httpPort}`, '--status=alive')).code).toBe(0)
    expect((await mogadm('device', 'add', `s${i}`, String(i))).code).toBe(0)
  }
  expect((await mogadm('domain', 'add', 'tdom')).code).toBe(0)
  expect((await mogadm('class', 'add', 'tdom', 'two', '--mindevcount=2')).code).toBe(0)
  await until('both devices writeable', async () => ((await mogadm('check')).stdout.match(/writeable/g) ?? []).length === 2)
}, 60_000)

afterAll(async () => {
  for (const d of daemons.reverse()) await d.stop()
})

const tool = (cmd: string, args: string[], input?: Buffer) => runCli(cmd, args, { env, input })

describe('mogadm', () => {
  it('is silent on success and prints OK messages only with --verbose', async () => {
    const r = await mogadm('class', 'add', 'tdom', 'one', '--mindevcount=1')
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' })
    const v = await runCli('mogadm', ['--verbose', T, 'class', 'modify', 'tdom', 'one', '--mindevcount=1'])
    expect(v.stdout).toBe('Class updated.\n')
  })

  it('lists hosts, devices and domains in the original layout', async () => {
    const h = await mogadm('host', 'list')
    expect(h.stdout).toMatch(/^s1 \[1\]: alive\n {2}IP: {7}127\.0\.0\.1:\d+\n\ns2 \[2\]: alive\n/)
    const d = await mogadm('device', 'list')
    expect(d.stdout).toMatch(/ {3}dev1: {3}alive +\d+\.\d{3} +\d+\.\d{3} +\d+\.\d{3} +100\n/)
    const c = await mogadm('class', 'list')
    expect(c.stdout.split('\n')[0]).toBe(' domain               class                mindevcount   replpolicy   hashtype')
    expect(c.stdout).toContain(' tdom                 two                       2        ')
  })

  it('reports tracker errors on stderr with exit 1', async () => {
    const r = await mogadm('domain', 'add', 'tdom')
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('Error creating domain: domain_exists That domain already exists\n')
    const u = await mogadm('host')
    expect(u.code).toBe(1)
    expect(u.stdout).toContain("Help for 'host' command:")
  })
})

describe('file tools', () => {
  it('mogupload → mogfetch round-trips a file; the tracker replicates it to both nodes', async () => {
    const f = path.join(dir, 'in.bin')
    writeFileSync(f, payload)
    const up = await tool('mogupload', ['--key=big/1', '--class=two', `--file=${f}`])
    expect(up).toMatchObject({ code: 0, stdout: '', stderr: '' })
    const out = path.join(dir, 'out.bin')
    expect((await tool('mogfetch', ['--key=big/1', `--file=${out}`])).code).toBe(0)
    expect(createHash('md5').update(readFileSync(out)).digest('hex')).toBe(createHash('md5').update(payload).digest('hex'))
    await until('2 copies', async () => (await tool('mogfileinfo', ['--key=big/1'])).stdout.includes('devcount:                    2'))
    const info = await tool('mogfileinfo', ['--key=big/1'])
    expect(info.stdout).toMatch(/^- file: big\/1\n {5}class: {18}two\n  devcount: {20}2\n/)
    expect(info.stdout.match(/^ - http:\/\//gm)).toHaveLength(2)
  })

  it('stdin upload and stdout fetch', async () => {
    expect((await tool('mogupload', ['--key=small', '--file=-'], Buffer.from('hello\n'))).code).toBe(0)
    const r = await tool('mogfetch', ['--key=small', '--file=-'])
    expect(r.stdout).toBe('hello\n')
  })

  it('moglistkeys, moglistfids, mogrename, mogfiledebug, mogdelete', async () => {
    expect((await tool('moglistkeys', ['--key_prefix=big/'])).stdout).toBe('big/1\n')
    const lf = await tool('moglistfids', [T, '--fromfid=0', '--count=10'])
    expect(lf.stdout).toMatch(/^fid \d+\nclass two\ndevcount \d\ndomain tdom\nkey big\/1\nlength 3145745\n\n/)
    expect((await tool('mogrename', ['--old_key=small', '--new_key=small2'])).code).toBe(0)
    const dbg = await tool('mogfiledebug', ['--key=small2'])
    expect(dbg.stdout).toMatch(/^Fetching and summing paths\.\.\.\n/)
    expect(dbg.stdout).toContain(` - MD5 Hash: ${createHash('md5').update('hello\n').digest('hex')}\n`)
    expect(dbg.stdout).toContain('      dkey:               small2\n')
    expect((await tool('mogdelete', ['--key=small2'])).code).toBe(0)
    const again = await tool('mogdelete', ['--key=small2'])
    expect(again.code).toBe(255)
    expect(again.stderr).toBe('Error deleting file: unknown_key unknown_key\n')
  })

  it('error exits mirror the Perl tools', async () => {
    const f = await tool('mogfetch', ['--key=nope', `--file=${path.join(dir, 'x')}`])
    expect(f.code).toBe(255)
    expect(f.stderr).toMatch(/^Error fetching paths: unknown_key /)
    const u = await tool('mogupload', ['--key=k', '--class=nocls', `--file=${path.join(dir, 'in.bin')}`])
    expect(u.code).toBe(255)
    expect(u.stderr).toMatch(/^Error opening MogileFS file: unreg_class /)
    const l = await tool('moglistkeys', ['--key_prefix=zzz'])
    expect(l.code).toBe(255)
    expect(l.stderr).toMatch(/^Error listing files: none_match /)
    const usage = await tool('mogupload', [])
    expect(usage).toMatchObject({ code: 0, stdout: "Usage: mogupload --trackers=host --domain=foo --key='/hello.jpg' --file='./hello.jpg'\n" })
  })

  it('mogstats reads the tracker database (SQLite DSN)', async () => {
    const r = await runCli('mogstats', [`--db_dsn=DBI:SQLite:dbname=${path.join(dir, 'mog.sqlite')}`, '--stats=files,fids'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Fetching statistics\.\.\. \(files,fids\)\n/)
    expect(r.stdout).toMatch(/ {2}tdom {17}two {17}1 {11}3 {13}6\n/)
    expect(r.stdout.endsWith('\ndone\n')).toBe(true)
  })
})
