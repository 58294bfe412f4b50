/**
 * MogileFSClient.store/fetch fallbacks against real TCP/HTTP peers: a tracker
 * peer handing out two destinations (the first one dead) and storage peers
 * (plain node:http servers) that record what they received.
 */
import http from 'node:http'
import net from 'node:net'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { MogileFSClient } from '../../../src/personalities/mogilefs/client/client.js'
import { closeHttpAgent } from '../../../src/personalities/mogilefs/client/http-transfer.js'

const closers: (() => void)[] = []
afterEach(() => {
  for (const c of closers.splice(0)) c()
  closeHttpAgent()
})

async function listen(srv: net.Server): Promise<number> {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  closers.push(() => srv.close())
  return (srv.address() as net.AddressInfo).port
}

async function deadPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const p = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return p
}

/** Tracker peer: answers each command name from `replies`, records the lines. */
async function tracker(replies: Record<string, (args: string) => string>): Promise<{ port: number; lines: string[] }> {
  const lines: string[] = []
  const port = await listen(
    net.createServer((sock) => {
      let buf = ''
      sock.on('data', (d) => {
        buf += d.toString('latin1')
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i).replace(/\r$/, '')
          buf = buf.slice(i + 1)
          lines.push(l)
          const [cmd, args = ''] = l.split(' ')
          sock.write(replies[cmd]?.(args) ?? 'ERR unknown_command Unknown+server+command\r\n')
        }
      })
    }),
  )
  return { port, lines }
}

/** Storage peer: PUT stores into `files`, GET serves them (404 when missing). */
async function storage(files: Map<string, Buffer>, heads: string[][] = []): Promise<number> {
  return listen(
    http.createServer(async (req, res) => {
      heads.push(Object.keys(req.headers))
      if (req.method === 'PUT') {
        const chunks: Buffer[] = []
        for await (const c of req) chunks.push(c as Buffer)
        files.set(req.url!, Buffer.concat(chunks))
        res.end('<h1>200 - OK</h1>\n')
      } else {
        const f = files.get(req.url!)
        res.statusCode = f ? 200 : 404
        res.end(f ?? 'nope')
      }
    }),
  )
}

describe('store', () => {
  it('falls back to the second destination when the first is down, then closes with the real size', async () => {
    const files = new Map<string, Buffer>()
    const sp = await storage(files)
    const dead = await deadPort()
    const path1 = `http://127.0.0.1:${dead}/dev1/0/000/000/0000000005.fid`
    const path2 = `http://127.0.0.1:${sp}/dev2/0/000/000/0000000005.fid`
    const t = await tracker({
      create_open: () => `OK fid=5&dev_count=2&devid_1=1&path_1=${path1}&devid_2=2&path_2=${path2}\r\n`,
      create_close: () => 'OK \r\n',
    })
    const c = new MogileFSClient({ trackers: [`127.0.0.1:${t.port}`], domain: 'd' })
    const body = Buffer.from('hello world')
    const r = await c.store('k', () => (async function* () { yield body })(), { class: 'two', size: body.length })
    expect(r).toMatchObject({ fid: 5, devid: 2, size: 11 })
    expect(files.get('/dev2/0/000/000/0000000005.fid')?.toString()).toBe('hello world')
    expect(t.lines[0]).toBe('create_open domain=d&class=two&key=k&fid=0&multi_dest=1&size=11')
    expect(t.lines[1]).toBe(`create_close fid=5&devid=2&domain=d&size=11&key=k&path=${path2}`)
    c.close()
  })

  it('an unknown-size stream goes chunked and create_close carries the counted size', async () => {
    const files = new Map<string, Buffer>()
    const heads: string[][] = []
    const sp = await storage(files, heads)
    const p = `http://127.0.0.1:${sp}/dev1/0/000/000/0000000006.fid`
    const t = await tracker({ create_open: () => `OK fid=6&dev_count=1&devid_1=1&path_1=${p}\r\n`, create_close: () => 'OK \r\n' })
    const c = new MogileFSClient({ trackers: [`127.0.0.1:${t.port}`], domain: 'd' })
    await c.store('k', (async function* () { yield Buffer.from('abc'); yield Buffer.from('defg') })())
    expect(heads[0]).toContain('transfer-encoding')
    expect(files.get('/dev1/0/000/000/0000000006.fid')?.toString()).toBe('abcdefg')
    expect(t.lines[1]).toContain('size=7')
    c.close()
  })

  it('a tracker error from create_close is final (no retry on another destination)', async () => {
    const files = new Map<string, Buffer>()
    const sp = await storage(files)
    const p = (n: number) => `http://127.0.0.1:${sp}/dev${n}/x.fid`
    const t = await tracker({
      create_open: () => `OK fid=7&dev_count=2&devid_1=1&path_1=${p(1)}&devid_2=2&path_2=${p(2)}\r\n`,
      create_close: () => 'ERR size_mismatch Expected:+1\r\n',
    })
    const c = new MogileFSClient({ trackers: [`127.0.0.1:${t.port}`], domain: 'd' })
    const e = await c.store('k', () => (async function* () { yield Buffer.from('x') })(), { size: 1 }).catch((x) => x)
    expect(e.code).toBe('size_mismatch')
    expect(t.lines.filter((l) => l.startsWith('create_close'))).toHaveLength(1)
    c.close()
  })
})

describe('fetch', () => {
  it('tries the next path when the first answers 404', async () => {
    const files = new Map<string, Buffer>([['/dev2/f', Buffer.from('payload')]])
    const sp = await storage(files)
    const t = await tracker({ get_paths: () => `OK paths=2&path1=http://127.0.0.1:${sp}/dev1/f&path2=http://127.0.0.1:${sp}/dev2/f\r\n` })
    const c = new MogileFSClient({ trackers: [`127.0.0.1:${t.port}`], domain: 'd' })
    const got: Buffer[] = []
    let opens = 0
    const n = await c.fetch('k', () => {
      opens++
      got.length = 0
      return new Writable({ write(ch, _e, cb) { got.push(ch); cb() } })
    })
    expect(n).toBe(7)
    expect(opens).toBe(2)
    expect(Buffer.concat(got).toString()).toBe('payload')
    expect(t.lines[0]).toBe('get_paths domain=d&key=k&noverify=1')
    c.close()
  })
})
