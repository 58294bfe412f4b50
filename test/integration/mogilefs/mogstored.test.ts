/**
 * mogstored HTTP + mgmt behaviour against a real `bin/mogstored` child
 * process: fixture replays (curl and MogileFS::Client/tracker request bytes),
 * Perlbal status codes and bodies, Content-MD5, Range, traversal, aborted
 * uploads, usage files and the sidechannel port.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFixture } from '../../helpers/fixtures.js'
import { mgmt, rawHttp, startMogstored, type Mogstored } from './mogstored-helpers.js'

let st: Mogstored
const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256))
const file = (rel: string) => path.join(st.docroot, rel)

beforeAll(async () => {
  st = await startMogstored('mogstored', [1, 2])
})
afterAll(async () => {
  await st?.daemon.stop()
})

describe('fixture replay', () => {
  it('http_scratch.jsonl: PUT, HEAD, GET, DELETE, HEAD, DELETE answer like Perlbal', async () => {
    const conns = loadFixture('mogilefs/http_scratch.jsonl')
    expect(conns).toHaveLength(6)
    for (const c of conns) {
      const isHead = c.c2s.toString('latin1').startsWith('HEAD')
      const [want] = (await import('./mogstored-helpers.js')).parseResponses(c.s2c, [isHead])
      const [got] = await rawHttp(st.httpPort, c.c2s, 1, [isHead])
      expect(got.status, c.c2s.toString('latin1').split('\r\n')[0]).toBe(want.status)
      expect(got.statusLine.split(' ').slice(1).join(' ')).toBe(want.statusLine.split(' ').slice(1).join(' '))
      for (const h of ['content-type', 'content-length', 'server', 'accept-ranges', 'connection']) {
        expect(got.headers[h], h).toBe(want.headers[h])
      }
      expect('last-modified' in got.headers).toBe('last-modified' in want.headers)
      expect(got.body.equals(want.body)).toBe(true)
    }
  })

  it("upload.jsonl: MogileFS::Client's PUT (HTTP/1.0, no Host, Content-length) stores the body", async () => {
    const conns = loadFixture('mogilefs/upload.jsonl')
    const put = conns.find((c) => c.c2s.toString('latin1').startsWith('PUT '))!
    const [want] = (await import('./mogstored-helpers.js')).parseResponses(put.s2c)
    const [got] = await rawHttp(st.httpPort, put.c2s)
    expect(got.status).toBe(want.status)
    expect(got.body.toString()).toBe(want.body.toString())
    expect(got.headers.connection).toBe('close')
    expect(readFileSync(file('dev2/0/000/029/0000029161.fid')).equals(payload)).toBe(true)
  })

  it("upload.jsonl: the tracker's MKCOL gets 400 and the pipelined HEAD gets 200 with the length", async () => {
    const conns = loadFixture('mogilefs/upload.jsonl')
    const c = conns.find((x) => x.c2s.toString('latin1').includes('HEAD '))!
    const [mk, head] = await rawHttp(st.httpPort, c.c2s, 2, [false, true])
    expect(mk.status).toBe(400)
    expect(mk.body.toString()).toBe('<h1>400 - Bad request</h1>\n')
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe('1000')
    expect(head.headers['content-type']).toBe('text/plain')
  })

  it('fetch.jsonl: LWP GET returns the stored bytes', async () => {
    const g = loadFixture('mogilefs/fetch.jsonl').find((c) => c.leg === 'mogstored')!
    const [got] = await rawHttp(st.httpPort, g.c2s)
    expect(got.status).toBe(200)
    expect(got.body.equals(payload)).toBe(true)
  })
})

describe('PUT variants', () => {
  it('HTTP/1.1 without Host and lower-case content-length is accepted', async () => {
    const [r] = await rawHttp(st.httpPort, 'PUT /dev1/h/nohost HTTP/1.1\r\ncontent-LENGTH: 3\r\n\r\nabc')
    expect(r.status).toBe(200)
    expect(readFileSync(file('dev1/h/nohost'), 'utf8')).toBe('abc')
  })

  it('chunked PUT stores the decoded body; overwrite replaces', async () => {
    const [r] = await rawHttp(st.httpPort, 'PUT /dev1/c/x.fid HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
    expect(r.status).toBe(200)
    expect(readFileSync(file('dev1/c/x.fid'), 'utf8')).toBe('hello world')
    await rawHttp(st.httpPort, 'PUT /dev1/c/x.fid HTTP/1.0\r\nContent-Length: 2\r\n\r\nok')
    expect(readFileSync(file('dev1/c/x.fid'), 'utf8')).toBe('ok')
  })

  it('PUT without a length creates an empty file (200)', async () => {
    const [r] = await rawHttp(st.httpPort, 'PUT /dev1/e/empty HTTP/1.0\r\n\r\n')
    expect(r.status).toBe(200)
    expect(readFileSync(file('dev1/e/empty')).length).toBe(0)
  })

  it('Content-MD5: match → "201 " with empty reason; mismatch → 400 and nothing written', async () => {
    const good = createHash('md5').update('data').digest('base64')
    const [ok] = await rawHttp(st.httpPort, `PUT /dev1/m/good HTTP/1.0\r\nContent-Length: 4\r\nContent-MD5: ${good}\r\n\r\ndata`)
    expect(ok.statusLine).toMatch(/^HTTP\/1\.[01] 201 $/)
    expect(ok.body.toString()).toBe('<h1>201</h1>\n')
    const [bad] = await rawHttp(st.httpPort, `PUT /dev1/m/bad HTTP/1.0\r\nContent-Length: 4\r\nContent-MD5: ${good}\r\n\r\nDATA`)
    expect(bad.status).toBe(400)
    expect(bad.body.toString()).toContain('Content-MD5 mismatch, expected: ')
    expect(existsSync(file('dev1/m/bad'))).toBe(false)
  })

  it('a PUT that dies halfway leaves nothing at the final path nor in the temp dir', async () => {
    const tmp = file('dev1/.tandem-tmp')
    const waitFor = async (what: string, f: () => boolean) => {
      for (let i = 0; i < 400 && !f(); i++) await new Promise((r) => setTimeout(r, 25))
      expect(f(), what).toBe(true)
    }
    const s = net.connect(st.httpPort, '127.0.0.1')
    await new Promise((r) => s.once('connect', r))
    s.write('PUT /dev1/half/x.fid HTTP/1.0\r\nContent-length: 100000\r\n\r\n')
    s.write(Buffer.alloc(5000, 1))
    // The body is being streamed into a temp file: now kill the client.
    await waitFor('temp file in flight', () => existsSync(tmp) && readdirSync(tmp).length > 0)
    s.destroy()
    await waitFor('temp file removed', () => readdirSync(tmp).length === 0)
    // A follow-up request on a fresh connection is served: the server survived.
    const [r] = await rawHttp(st.httpPort, 'HEAD /dev1/half/x.fid HTTP/1.0\r\n\r\n', 1, [true])
    expect(r.status).toBe(404)
    expect(existsSync(file('dev1/half/x.fid'))).toBe(false)
  })
})

describe('GET/HEAD/DELETE and errors', () => {
  it('Range → 206 with Content-Range; unsatisfiable → 416', async () => {
    await rawHttp(st.httpPort, 'PUT /dev1/r/file HTTP/1.0\r\nContent-Length: 10\r\n\r\n0123456789')
    const [r] = await rawHttp(st.httpPort, 'GET /dev1/r/file HTTP/1.0\r\nRange: bytes=2-4\r\n\r\n')
    expect(r.status).toBe(206)
    expect(r.headers['content-range']).toBe('bytes 2-4/10')
    expect(r.body.toString()).toBe('234')
    const [t] = await rawHttp(st.httpPort, 'GET /dev1/r/file HTTP/1.0\r\nRange: bytes=-3\r\n\r\n')
    expect(t.body.toString()).toBe('789')
    const [u] = await rawHttp(st.httpPort, 'GET /dev1/r/file HTTP/1.0\r\nRange: bytes=20-\r\n\r\n')
    expect(u.status).toBe(416)
    expect(u.headers['content-range']).toBe('bytes */10')
  })

  it('directory requests answer "Directory listing disabled"', async () => {
    for (const p of ['/', '/dev1/']) {
      const [r] = await rawHttp(st.httpPort, `GET ${p} HTTP/1.0\r\n\r\n`)
      expect(r.status).toBe(200)
      expect(r.body.toString()).toBe('<h1>200 - OK</h1>\nDirectory listing disabled')
    }
  })

  it('`..` → 403 Bogus URL on GET, 400 Invalid filename on PUT; nothing escapes the docroot', async () => {
    const [g] = await rawHttp(st.httpPort, 'GET /dev1/../../etc/passwd HTTP/1.0\r\n\r\n')
    expect(g.status).toBe(403)
    expect(g.body.toString()).toBe('<h1>403 - Forbidden</h1>\nBogus URL')
    const [p] = await rawHttp(st.httpPort, 'PUT /dev1/../x HTTP/1.0\r\nContent-Length: 1\r\n\r\nx')
    expect(p.status).toBe(400)
    expect(existsSync(path.join(st.docroot, 'x'))).toBe(false)
  })

  it('MKCOL, MOVE, POST → 400; DELETE → 204 then 404', async () => {
    for (const m of ['MKCOL', 'MOVE', 'POST']) {
      const [r] = await rawHttp(st.httpPort, `${m} /dev1/q/ HTTP/1.0\r\nContent-Length: 0\r\n\r\n`)
      expect(r.status, m).toBe(400)
    }
    await rawHttp(st.httpPort, 'PUT /dev1/d/x HTTP/1.0\r\nContent-Length: 1\r\n\r\nx')
    const [a] = await rawHttp(st.httpPort, 'DELETE /dev1/d/x HTTP/1.0\r\n\r\n')
    expect(a.status).toBe(204)
    const [b] = await rawHttp(st.httpPort, 'DELETE /dev1/d/x HTTP/1.0\r\n\r\n')
    expect(b.status).toBe(404)
    expect(b.body.toString()).toBe('<h1>404 - Not Found</h1>\n')
  })

  it('malformed requests get Perlbal-style 400s and the server keeps serving', async () => {
    const [a] = await rawHttp(st.httpPort, 'GET /dev1/a%zz HTTP/1.0\r\n\r\n')
    expect(a.status).toBe(400)
    expect(a.body.toString()).toBe('<h1>400 - Bad request</h1>\n')
    const [b] = await rawHttp(st.httpPort, 'GARBAGE\r\n\r\n')
    expect(b.status).toBe(400)
    const [c] = await rawHttp(st.httpPort, 'PUT /dev1/x HTTP/1.0\r\nContent-Length: -5\r\n\r\n')
    expect(c.status).toBe(400)
    const [d] = await rawHttp(st.httpPort, 'GET /dev1/r/file HTTP/1.0\r\n\r\n')
    expect(d.status).toBe(200)
  })

  it('pipelined PUT then GET on one connection are served in order', async () => {
    const rs = await rawHttp(st.httpPort, 'PUT /dev1/p/x HTTP/1.1\r\nContent-Length: 4\r\n\r\npipeGET /dev1/p/x HTTP/1.1\r\n\r\n', 2)
    expect(rs.map((r) => r.status)).toEqual([200, 200])
    expect(rs[1].body.toString()).toBe('pipe')
  })

  it('large GETs (zero-copy when the addon is built) return the exact bytes; pipelined requests after them still work', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 123)
    for (let i = 0; i + 4 <= big.length; i += 4) big.writeUInt32LE(i, i)
    const put = await fetch(`http://127.0.0.1:${st.httpPort}/dev1/zc/big.fid`, { method: 'PUT', body: big })
    expect(put.status).toBe(200)
    const one = await fetch(`http://127.0.0.1:${st.httpPort}/dev1/zc/big.fid`)
    expect(Number(one.headers.get('content-length'))).toBe(big.length)
    expect(Buffer.from(await one.arrayBuffer()).equals(big)).toBe(true)
    const get = 'GET /dev1/zc/big.fid HTTP/1.1\r\nHost: x\r\n\r\n'
    const rs = await rawHttp(st.httpPort, get + 'GET /dev1/p/x HTTP/1.1\r\nHost: x\r\n\r\n' + get, 3)
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200])
    expect(rs[0].body.equals(big)).toBe(true)
    expect(rs[1].body.toString()).toBe('pipe')
    expect(rs[2].body.equals(big)).toBe(true)
  })

  it('HTTP/1.0 keep-alive serves several requests on one connection', async () => {
    const req = 'GET /dev1/r/file HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
    const rs = await rawHttp(st.httpPort, req + req, 2)
    expect(rs.map((r) => r.status)).toEqual([200, 200])
    expect(rs[0].headers.connection).toBe('keep-alive')
  })
})

describe('usage files and mgmt port', () => {
  it('writes dev<N>/usage with sorted key: value lines in KiB', async () => {
    const u = file('dev1/usage')
    for (let i = 0; i < 400 && !existsSync(u); i++) await new Promise((r) => setTimeout(r, 25))
    const lines = readFileSync(u, 'utf8').trimEnd().split('\n')
    expect(lines.map((l) => l.split(':')[0])).toEqual(['available', 'device', 'disk', 'time', 'total', 'use', 'used'])
    const kv = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]))
    expect(Number(kv.total)).toBe(Number(kv.used) + Number(kv.available))
    expect(kv.use).toMatch(/^\d+%$/)
    expect(kv.disk).toBe(file('dev1'))
    const [r] = await rawHttp(st.httpPort, 'GET /dev1/usage HTTP/1.0\r\n\r\n')
    expect(r.body.toString()).toContain('available: ')
  })

  it('size, MD5, SHA-1, `..`, version and unknown commands', async () => {
    await rawHttp(st.httpPort, 'PUT /dev1/s/f HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello')
    const md5 = createHash('md5').update('hello').digest('hex')
    const sha = createHash('sha1').update('hello').digest('hex')
    expect(await mgmt(st.mgmtPort, 'size /dev1/s/f\r\n', 1)).toEqual(['/dev1/s/f 5'])
    expect(await mgmt(st.mgmtPort, 'size /dev1/s/nope\r\n', 1)).toEqual(['/dev1/s/nope -1'])
    expect(await mgmt(st.mgmtPort, 'MD5 /dev1/s/f fsck\r\nSHA-1 /dev1/s/f\r\n', 2)).toEqual([`/dev1/s/f MD5=${md5}`, `/dev1/s/f SHA-1=${sha}`])
    expect(await mgmt(st.mgmtPort, 'MD5 /dev1/s/nope\r\n', 1)).toEqual(['/dev1/s/nope MD5=-1'])
    expect(await mgmt(st.mgmtPort, 'size /dev1/../../etc/passwd\r\n', 1)).toEqual(['ERROR: uri invalid (contains ..)'])
    const v = await mgmt(st.mgmtPort, 'version\r\n', 4)
    expect(v[2]).toBe('version 1.80')
    expect(v[3]).toBe('.')
    expect(await mgmt(st.mgmtPort, 'bogus x\r\n', 1)).toEqual(['ERROR: unknown command: bogus'])
  })

  it('watch streams "<devid>\\t<util>" lines and "." per round', async () => {
    const lines = await mgmt(st.mgmtPort, 'watch\r\n', 3)
    expect(lines[0]).toMatch(/^1\t\d+\.\d\d$/)
    expect(lines[1]).toMatch(/^2\t\d+\.\d\d$/)
    expect(lines[2]).toBe('.')
  })
})
