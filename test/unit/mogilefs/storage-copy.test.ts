/**
 * The tracker's choice between destination pull and GET→PUT relay
 * (storage-http.ts): nodes are "ours" only once they answered with
 * `X-Tandem-Mogstored: 1`; a Perlbal-like node (no header) and a node that
 * refuses the pull (405) both get the relay, over real local sockets.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copy, copyMode, noteNode, pullRefused, request } from '../../../src/personalities/mogilefs/tracker/storage-http.js'
import { metrics } from '../../../src/server/process-metrics.js'

const SRC_PATH = '/dev1/0/000/000/0000000042.fid'
const data = Buffer.alloc(100 * 1024)
for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff

interface FakeNode {
  url: string
  puts: Array<{ headers: http.IncomingHttpHeaders; body: Buffer }>
  close(): Promise<void>
}

/** A storage node stand-in: serves `data` at SRC_PATH, records PUTs; `ours` adds the header and answers pulls with 405. */
async function fakeNode(ours: boolean): Promise<FakeNode> {
  const puts: FakeNode['puts'] = []
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const h: Record<string, string | number> = ours ? { 'X-Tandem-Mogstored': '1' } : { Server: 'Perlbal' }
      if (req.method === 'GET' && req.url === SRC_PATH) {
        res.writeHead(200, { ...h, 'Content-Length': data.length })
        return res.end(data)
      }
      if (req.method === 'PUT') {
        if (ours && req.headers['x-tandem-copy-from']) {
          res.writeHead(405, { ...h, 'Content-Length': 0 })
          return res.end()
        }
        puts.push({ headers: req.headers, body: Buffer.concat(chunks) })
        res.writeHead(200, { ...h, 'Content-Length': 0 })
        return res.end()
      }
      res.writeHead(404, { ...h, 'Content-Length': 0 })
      res.end()
    })
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, puts, close: () => new Promise((r) => srv.close(() => r())) }
}

describe('copy mode decision', () => {
  it('unknown → relay; learns ours / not ours from response headers, per origin', () => {
    const a = 'http://10.9.8.7:7500'
    expect(copyMode(`${a}/dev1/0/000/000/0000000001.fid`)).toBe('relay')
    noteNode(`${a}/dev1/usage`, { 'x-tandem-mogstored': '1' })
    expect(copyMode(`${a}/dev3/0/000/000/0000000001.fid`)).toBe('pull')
    expect(copyMode('http://10.9.8.7:7501/dev1/0/000/000/0000000001.fid')).toBe('relay')
    noteNode(`${a}/dev1/usage`, { server: 'Perlbal' })
    expect(copyMode(`${a}/dev3/0/000/000/0000000001.fid`)).toBe('relay')
  })

  it('400/404/405/501 mean "no pulls here"; other statuses do not', () => {
    for (const s of [400, 404, 405, 501, 502]) expect(pullRefused(s)).toBe(true)
    for (const s of [200, 201, 500, 503]) expect(pullRefused(s)).toBe(false)
  })
})

describe('copy() over sockets', () => {
  let src: FakeNode
  let perlbal: FakeNode
  let oldOurs: FakeNode
  beforeAll(async () => {
    ;[src, perlbal, oldOurs] = await Promise.all([fakeNode(false), fakeNode(false), fakeNode(true)])
  })
  afterAll(async () => {
    await Promise.all([src, perlbal, oldOurs].map((n) => n?.close()))
  })
  const relays = () => metrics.get('tandem_mogilefs_replication_relays_total') ?? 0
  const pulls = () => metrics.get('tandem_mogilefs_replication_pulls_total') ?? 0

  it('a node without the header (Perlbal) gets the relay, even after the monitor polled it', async () => {
    await request('GET', `${perlbal.url}/dev2/usage`, 2000)
    expect(copyMode(`${perlbal.url}${SRC_PATH}`)).toBe('relay')
    const [r0, p0] = [relays(), pulls()]
    const r = await copy(src.url + SRC_PATH, `${perlbal.url}/dev2/0/000/000/0000000042.fid`, 5000, 'md5')
    expect(r.size).toBe(data.length)
    expect(r.digest?.toString('hex')).toBe(createHash('md5').update(data).digest('hex'))
    expect(perlbal.puts.length).toBe(1)
    expect(perlbal.puts[0].body.equals(data)).toBe(true)
    expect(perlbal.puts[0].headers['x-tandem-copy-from']).toBeUndefined()
    expect([relays() - r0, pulls() - p0]).toEqual([1, 0])
  })

  it('a node that advertises the header but refuses the pull (405) falls back to the relay', async () => {
    await request('GET', `${oldOurs.url}/dev2/usage`, 2000)
    expect(copyMode(`${oldOurs.url}${SRC_PATH}`)).toBe('pull')
    const [r0, p0] = [relays(), pulls()]
    const r = await copy(src.url + SRC_PATH, `${oldOurs.url}/dev2/0/000/000/0000000042.fid`, 5000, 'sha1')
    expect(r.size).toBe(data.length)
    expect(r.digest?.toString('hex')).toBe(createHash('sha1').update(data).digest('hex'))
    expect(oldOurs.puts.length).toBe(1)
    expect(oldOurs.puts[0].body.equals(data)).toBe(true)
    expect([relays() - r0, pulls() - p0]).toEqual([1, 0])
  })
})
