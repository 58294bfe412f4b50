/**
 * MogileFS client Backend against a real TCP peer playing the tracker:
 * reply parsing (OK/ERR rules of MogileFS::Backend), connection reuse,
 * dead-tracker skipping, reconnect after the tracker closed an idle socket.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Backend } from '../../../src/personalities/mogilefs/client/backend.js'
import { MogileError, isTrackerError } from '../../../src/personalities/mogilefs/client/errors.js'

const servers: net.Server[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

/** A tracker peer answering each line with `reply(line)`; counts connections. */
async function peer(reply: (line: string, sock: net.Socket) => string | undefined): Promise<{ port: number; conns: () => number; lines: string[] }> {
  let conns = 0
  const lines: string[] = []
  const srv = net.createServer((sock) => {
    conns++
    let buf = ''
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i).replace(/\r$/, '')
        buf = buf.slice(i + 1)
        lines.push(l)
        const r = reply(l, sock)
        if (r !== undefined) sock.write(r)
      }
    })
    sock.on('error', () => {})
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  return { port: (srv.address() as net.AddressInfo).port, conns: () => conns, lines }
}

async function closedPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const p = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return p
}

describe('Backend', () => {
  it('encodes the request like the server encoder and decodes OK args', async () => {
    const t = await peer(() => 'OK path_1=http://h:1/dev1/0/000/000/0000000001.fid&fid=1&key=a+b%26c\r\n')
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`] })
    const r = await b.request('create_open', { domain: 'd', key: 'a b&c', fid: 0, class: undefined })
    expect(t.lines[0]).toBe('create_open domain=d&key=a+b%26c&fid=0')
    expect(r).toEqual({ path_1: 'http://h:1/dev1/0/000/000/0000000001.fid', fid: '1', key: 'a b&c' })
    b.close()
  })

  it('an empty success is `OK ` → {}', async () => {
    const t = await peer(() => 'OK \r\n')
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`] })
    expect(await b.request('noop')).toEqual({})
    b.close()
  })

  it('ERR lines become tracker errors with decoded message; errstr is "code message"', async () => {
    const t = await peer(() => 'ERR key_exists Target+key+name+already+exists%3B+can%27t+overwrite.\r\n')
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`] })
    const e = await b.request('rename', { domain: 'd', from_key: 'a', to_key: 'b' }).catch((x) => x)
    expect(isTrackerError(e, 'key_exists')).toBe(true)
    expect((e as MogileError).errstr).toBe("key_exists Target key name already exists; can't overwrite.")
    b.close()
  })

  it('an unparseable reply is a protocol error and drops the socket', async () => {
    const t = await peer((l) => (l.startsWith('bad') ? 'HELLO\r\n' : 'OK a=1\r\n'))
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`] })
    const e = await b.request('bad').catch((x) => x)
    expect(e).toBeInstanceOf(MogileError)
    expect((e as MogileError).fromTracker).toBe(false)
    expect(await b.request('good')).toEqual({ a: '1' })
    expect(t.conns()).toBe(2)
    b.close()
  })

  it('reuses one connection for sequential and concurrent requests (answers stay in order)', async () => {
    const t = await peer((l) => `OK n=${l.split(' ')[0]}\r\n`)
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`] })
    const rs = await Promise.all(['a', 'b', 'c'].map((c) => b.request(c)))
    expect(rs.map((r) => r.n)).toEqual(['a', 'b', 'c'])
    expect(t.conns()).toBe(1)
    b.close()
  })

  it('skips a dead tracker and uses the live one', async () => {
    const t = await peer(() => 'OK \r\n')
    const dead = await closedPort()
    const b = new Backend({ trackers: [`127.0.0.1:${dead}`, `127.0.0.1:${t.port}`, `127.0.0.1:${dead}`] })
    for (let i = 0; i < 3; i++) expect(await b.request('noop')).toEqual({})
    b.close()
  })

  it('all trackers dead → connect error', async () => {
    const b = new Backend({ trackers: [`127.0.0.1:${await closedPort()}`] })
    const e = await b.request('noop').catch((x) => x)
    expect((e as MogileError).code).toBe('client_connect')
  })

  it('reconnects when the tracker closed the cached socket', async () => {
    const t = await peer((_l, sock) => {
      sock.end('OK \r\n')
      return undefined
    })
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`] })
    expect(await b.request('noop')).toEqual({})
    expect(await b.request('noop')).toEqual({})
    expect(t.conns()).toBe(2)
    b.close()
  })

  it('a tracker that never answers gives a timeout error (not a retry)', async () => {
    const t = await peer(() => undefined)
    const b = new Backend({ trackers: [`127.0.0.1:${t.port}`], timeout: 0.2 })
    const e = await b.request('sleep', { duration: 5 }).catch((x) => x)
    expect((e as MogileError).code).toBe('client_timeout')
    expect(t.lines).toEqual(['sleep duration=5'])
    b.close()
  })

  it('an empty tracker list is refused up front', () => {
    expect(() => new Backend({ trackers: [] })).toThrow(MogileError)
  })
})
