/**
 * Destination-pull replication (tandemfs extension): a real `bin/mogstored`
 * answering `PUT` + `X-Tandem-Copy-From` (stores byte-identical copies, digest
 * headers, 400 on bad sources, 502 and nothing stored when the source fails),
 * and a real `bin/mogilefsd` replicating through pulls.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, tmpDir } from '../../helpers/proc.js'
import { fidPath } from '../../../src/personalities/mogilefs/tracker/paths.js'
import { parsePrometheus } from '../../../src/engine/metrics.js'
import { startMogstored, type Mogstored } from './mogstored-helpers.js'
import { httpReq, makeDb, setupCluster, startStores, startTracker, store, TrackerClient, until, type Db, type Stores, type TrackerProc } from './tracker-harness.js'

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

function req(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, agent: false, headers: { 'Content-Length': String(body?.length ?? 0), ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    r.on('error', reject)
    r.end(body)
  })
}

describe('mogstored pull PUT (X-Tandem-Copy-From)', () => {
  let st: Mogstored
  const base = () => `http://127.0.0.1:${st.httpPort}`
  const file = (rel: string) => path.join(st.docroot, rel)
  const big = Buffer.alloc(300 * 1024)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff
  const small = Buffer.from('a small replicated file\n'.repeat(20))

  beforeAll(async () => {
    st = await startMogstored('mogpull', [1, 2])
    for (const [fid, data] of [[1, big], [2, small]] as const) expect((await req('PUT', base() + fidPath(1, fid), {}, data)).status).toBe(200)
  })
  afterAll(async () => {
    await st?.daemon.stop()
  })

  it('every answer advertises X-Tandem-Mogstored', async () => {
    expect((await req('GET', base() + fidPath(1, 2))).headers['x-tandem-mogstored']).toBe('1')
    expect((await req('HEAD', base() + fidPath(1, 2))).headers['x-tandem-mogstored']).toBe('1')
    expect((await req('GET', base() + '/dev1/nope.fid')).headers['x-tandem-mogstored']).toBe('1')
    expect((await req('PUT', base() + '/dev1/x/y', {}, Buffer.from('x'))).headers['x-tandem-mogstored']).toBe('1')
  })

  it('stores a byte-identical copy and reports size and digest (md5, sha1, none)', async () => {
    for (const [fid, data, alg] of [[1, big, 'md5'], [2, small, 'sha1'], [1, big, undefined]] as const) {
      const dst = fidPath(2, fid)
      rmSync(file(dst), { force: true })
      const r = await req('PUT', base() + dst, { 'X-Tandem-Copy-From': base() + fidPath(1, fid), ...(alg ? { 'X-Tandem-Digest': alg } : {}) })
      expect(r.status).toBe(201)
      expect(r.headers['x-tandem-copied']).toBe(String(data.length))
      if (alg) expect(r.headers['x-tandem-digest-value']).toBe(createHash(alg).update(data).digest('hex'))
      else expect(r.headers['x-tandem-digest-value']).toBeUndefined()
      expect(readFileSync(file(dst)).equals(data)).toBe(true)
      expect((await req('GET', base() + dst)).body.equals(data)).toBe(true)
    }
  })

  it('bad source URLs, digests or bodies → 400 and nothing stored', async () => {
    const dst = fidPath(2, 77)
    const bad = [
      `https://127.0.0.1:${st.httpPort}${fidPath(1, 1)}`,
      `ftp://127.0.0.1/${fidPath(1, 1)}`,
      `${base()}/dev1/x/y`,
      `${base()}/dev1/0/../../etc/0000000001.fid`,
      `${base()}/etc/0000000001.fid`,
      `${base()}${fidPath(1, 1)}?x=1`,
      'not a url',
    ]
    for (const src of bad) {
      const r = await req('PUT', base() + dst, { 'X-Tandem-Copy-From': src })
      expect(r.status, src).toBe(400)
    }
    expect((await req('PUT', base() + dst, { 'X-Tandem-Copy-From': base() + fidPath(1, 1), 'X-Tandem-Digest': 'crc32' })).status).toBe(400)
    expect((await req('PUT', base() + dst, { 'X-Tandem-Copy-From': base() + fidPath(1, 1) }, Buffer.from('body'))).status).toBe(400)
    expect(existsSync(file(dst))).toBe(false)
  })

  it('a failing source → 502 with nothing stored; the node keeps serving', async () => {
    const dst = fidPath(2, 88)
    const r404 = await req('PUT', base() + dst, { 'X-Tandem-Copy-From': base() + fidPath(1, 999) })
    expect(r404.status).toBe(502)
    const deadPort = await freePort()
    const rDead = await req('PUT', base() + dst, { 'X-Tandem-Copy-From': `http://127.0.0.1:${deadPort}${fidPath(1, 1)}` })
    expect(rDead.status).toBe(502)
    // A source that promises 200 000 bytes and dies after 70 000.
    const liar = http.createServer((_q, res) => {
      res.writeHead(200, { 'Content-Length': 200_000 })
      res.write(Buffer.alloc(70_000, 9), () => setTimeout(() => res.destroy(), 50))
    })
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r))
    const liarPort = (liar.address() as { port: number }).port
    const rShort = await req('PUT', base() + dst, { 'X-Tandem-Copy-From': `http://127.0.0.1:${liarPort}${fidPath(1, 1)}` })
    liar.close()
    expect(rShort.status).toBe(502)
    expect(existsSync(file(dst))).toBe(false)
    expect(readdirSync(file('dev2/.tandem-tmp'))).toEqual([])
    expect((await req('GET', base() + fidPath(1, 2))).body.equals(small)).toBe(true)
  })
})

describe('mogilefsd replicates by destination pull', () => {
  let dir: string
  let st: Stores
  let db: Db
  let trk: TrackerProc
  let c: TrackerClient
  let metricsPort: number

  beforeAll(async () => {
    dir = tmpDir('mogpull-trk')
    st = await startStores(dir, 2, 1)
    db = await makeDb('SQLite', dir)
    metricsPort = await freePort()
    trk = await startTracker(dir, db.dsn, st.mgmtPort, `metrics_port = ${metricsPort}\n`)
    c = await TrackerClient.connect(trk.port)
    await setupCluster(c, st)
    await c.ok('create_class', { domain: 'testdom', class: 'md5two', mindevcount: 2, hashtype: 'MD5' })
  })
  afterAll(async () => {
    c?.close()
    await trk?.daemon.stop()
    await st?.stopAll()
    await db?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('mindevcount 2 → two byte-identical copies, made by pulls (none relayed)', async () => {
    const files = [
      { key: 'pull-big', data: Buffer.alloc(1024 * 1024, 5), cls: 'two', extra: {} },
      { key: 'pull-small', data: Buffer.from('pulled, not relayed\n'.repeat(50)), cls: 'md5two', extra: {} as Record<string, string> },
    ]
    for (let i = 0; i < files[0].data.length; i += 4096) files[0].data[i] = i & 0xff
    files[1].extra = { checksum: `MD5:${createHash('md5').update(files[1].data).digest('hex')}` }
    for (const f of files) {
      const s = await store(c, f.key, f.data, f.cls, f.extra)
      expect(s.close.ok).toBe(true)
      await until(async () => (await c.ok('file_info', { domain: 'testdom', key: f.key, devices: 1 })).devids.split(',').length === 2, 20_000, `two copies of ${f.key}`)
      const p = await c.ok('get_paths', { domain: 'testdom', key: f.key })
      expect(p.paths).toBe('2')
      for (const u of [p.path1, p.path2]) expect((await httpReq('GET', u)).body.equals(f.data)).toBe(true)
    }
    const m = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())
    expect(m.get('tandem_mogilefs_replication_pulls_total')).toBe(2)
    expect(m.get('tandem_mogilefs_replication_relays_total') ?? 0).toBe(0)
  })
})
