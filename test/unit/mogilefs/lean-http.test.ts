/**
 * The tracker's small HTTP client (tracker/lean-http.ts) against real local
 * servers: node:http for the ordinary shapes, raw TCP servers for the odd ones
 * (HTTP/1.0, chunked with trailers, interim 102s, a body up to the close,
 * garbage, silence, a kept-alive socket closed by the server).
 */
import http from 'node:http'
import net from 'node:net'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { closeIdle, leanRequest, parseHttpUrl } from '../../../src/personalities/mogilefs/tracker/lean-http.js'

const servers: Array<{ close(): unknown }> = []
afterEach(() => closeIdle())
afterAll(() => {
  for (const s of servers) s.close()
})

async function listen(srv: net.Server): Promise<number> {
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  return (srv.address() as net.AddressInfo).port
}

/** A raw server answering each request (after its head, and its Content-Length body) with `answer(n)`. */
async function rawServer(answer: (n: number, sock: net.Socket) => string | Buffer | undefined): Promise<{ port: number; connections: () => number }> {
  let conns = 0
  let n = 0
  const srv = net.createServer((sock) => {
    conns++
    let buf = Buffer.alloc(0)
    sock.on('data', (b) => {
      buf = Buffer.concat([buf, b])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const len = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0)
        if (buf.length < end + 4 + len) return
        buf = buf.subarray(end + 4 + len)
        const a = answer(++n, sock)
        if (a !== undefined) sock.write(a)
      }
    })
    sock.on('error', () => {})
  })
  const port = await listen(srv)
  return { port, connections: () => conns }
}

describe('lean-http', () => {
  it('parses only plain http URLs', () => {
    expect(parseHttpUrl('http://127.0.0.1:7500/dev1/0/000/000/0000000001.fid')).toEqual({ host: '127.0.0.1', port: 7500, path: '/dev1/0/000/000/0000000001.fid', origin: '127.0.0.1:7500' })
    expect(parseHttpUrl('http://h/x?y=1')?.port).toBe(80)
    expect(parseHttpUrl('http://[::1]:8080/a')?.host).toBe('::1')
    expect(parseHttpUrl('https://h/x')).toBeUndefined()
    expect(parseHttpUrl('http://h:99999/x')).toBeUndefined()
    expect(parseHttpUrl('http://h:80/x\r\nInjected: 1')).toBeUndefined()
  })

  it('HEAD, GET, PUT and DELETE against node:http, on one kept-alive connection', async () => {
    const seen: string[] = []
    let conns = 0
    const srv = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body} ${req.headers['x-probe'] ?? ''}`)
        if (req.method === 'HEAD') return void res.writeHead(200, { 'Content-Length': '12345', 'X-Tandem-Mogstored': '1' }).end()
        if (req.method === 'DELETE') return void res.writeHead(204).end()
        res.writeHead(req.method === 'PUT' ? 201 : 200, { 'Content-Type': 'text/plain', 'Set-Cookie': ['a=1', 'b=2'] }).end(`got ${body.length}`)
      })
    })
    srv.on('connection', () => conns++)
    const port = await listen(srv)
    const base = `http://127.0.0.1:${port}`
    const h = await leanRequest('HEAD', `${base}/dev1/x.fid`, 2000)
    expect(h.status).toBe(200)
    expect(h.headers['content-length']).toBe('12345')
    expect(h.headers['x-tandem-mogstored']).toBe('1')
    expect(h.body.length).toBe(0)
    const p = await leanRequest('PUT', `${base}/dev1/y.fid`, 2000, Buffer.from('hello'), { 'X-Probe': 'p' })
    expect([p.status, p.body.toString(), p.headers['set-cookie']]).toEqual([201, 'got 5', 'a=1, b=2'])
    const e = await leanRequest('PUT', `${base}/dev1/empty.fid`, 2000)
    expect(e.body.toString()).toBe('got 0')
    const g = await leanRequest('GET', `${base}/dev1/usage`, 2000)
    expect(g.status).toBe(200)
    expect((await leanRequest('DELETE', `${base}/dev1/y.fid`, 2000)).status).toBe(204)
    expect(seen).toEqual(['HEAD /dev1/x.fid  ', 'PUT /dev1/y.fid hello p', 'PUT /dev1/empty.fid  ', 'GET /dev1/usage  ', 'DELETE /dev1/y.fid  '])
    expect(conns).toBe(1)
    // Concurrent requests open more connections, and all are answered.
    const many = await Promise.all(Array.from({ length: 5 }, (_, i) => leanRequest('GET', `${base}/c${i}`, 2000)))
    expect(many.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
  })

  it('skips 102 Processing, decodes chunked bodies with trailers, reads HTTP/1.0 bodies up to the close', async () => {
    const { port, connections } = await rawServer((n) => {
      if (n === 1) return 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nX-Tandem-Copied: 42\r\nContent-Length: 2\r\n\r\nok'
      if (n === 2) return 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n'
      return undefined
    })
    const base = `http://127.0.0.1:${port}`
    const a = await leanRequest('PUT', `${base}/pull`, 2000)
    expect([a.status, a.headers['x-tandem-copied'], a.body.toString()]).toEqual([200, '42', 'ok'])
    const b = await leanRequest('GET', `${base}/chunked`, 2000)
    expect(b.body.toString()).toBe('hello world')
    expect(connections()).toBe(1) // both on one kept-alive socket

    const old = net.createServer((sock) => {
      sock.once('data', () => sock.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close'))
    })
    const p2 = await listen(old)
    const c = await leanRequest('GET', `http://127.0.0.1:${p2}/x`, 2000)
    expect([c.status, c.body.toString()]).toEqual([200, 'until the close'])
  })

  it('retries once on a fresh connection when the server closed the kept-alive one', async () => {
    let sockets: net.Socket[] = []
    const { port, connections } = await rawServer((_n, sock) => {
      sockets.push(sock)
      return 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA'
    })
    const url = `http://127.0.0.1:${port}/x`
    expect((await leanRequest('GET', url, 2000)).body.toString()).toBe('A')
    for (const s of sockets) s.destroy() // the node times the idle socket out
    sockets = []
    await new Promise((r) => setTimeout(r, 50))
    expect((await leanRequest('GET', url, 2000)).body.toString()).toBe('A')
    expect(connections()).toBe(2)
  })

  it('fails cleanly on garbage, oversized or trailing bytes, silence and refused connections', async () => {
    const { port } = await rawServer((n) => {
      if (n === 1) return 'SSH-2.0-OpenSSH\r\n\r\n'
      if (n === 2) return 'HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n'
      if (n === 3) return 'HTTP/1.1 204 No Content\r\n\r\nextra'
      if (n === 4) return 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
      if (n === 5) return `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}`
      return undefined // n >= 6: never answers
    })
    const url = `http://127.0.0.1:${port}/x`
    await expect(leanRequest('GET', url, 2000)).rejects.toThrow(/bad status line/)
    await expect(leanRequest('GET', url, 2000)).rejects.toThrow(/bad content-length/)
    await expect(leanRequest('GET', url, 2000)).rejects.toThrow(/bytes after/)
    await expect(leanRequest('GET', url, 2000)).rejects.toThrow(/bad chunk size/)
    await expect(leanRequest('GET', url, 2000)).rejects.toThrow(/head too large/)
    const t0 = Date.now()
    await expect(leanRequest('GET', url, 200)).rejects.toThrow(/timeout after 200 ms/)
    expect(Date.now() - t0).toBeLessThan(2000)
    const free = await listen(net.createServer())
    servers.pop()!.close()
    await new Promise((r) => setTimeout(r, 20))
    await expect(leanRequest('GET', `http://127.0.0.1:${free}/x`, 2000)).rejects.toThrow(/ECONNREFUSED/)
    await expect(leanRequest('GET', 'http://127.0.0.1:1/x', 2000, undefined, { 'X-Bad': 'a\r\nInjected: 1' })).rejects.toThrow(/line break/)
  })
})
