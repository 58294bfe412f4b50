/**
 * The storage's tracker side (GET_MY_IP, PARAMETER_REQ, JOIN, SYNC_DEST_REQ,
 * BEAT, REPORT_DISK_USAGE) checked byte by byte against a raw listener that
 * plays the tracker, plus reconnection after the tracker drops us.
 * (Interop with the real fdfs_trackerd is checked manually; see the report.)
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../helpers/proc.js'
import { RawConn, startTestStorage, uploadBody, type TestStorage } from '../../helpers/fdfs-raw.js'

interface Seen {
  cmd: number
  body: Buffer
  conn: number
}

const seen: Seen[] = []
let server: net.Server
let st: TestStorage
let trackerPort: number
let connNo = 0
const socks = new Set<net.Socket>()

function brief(status: number, port: number, id: string, ip: string): Buffer {
  const b = Buffer.alloc(67)
  b[0] = status
  b.writeInt32BE(port, 1)
  b.write(id, 5, 'latin1')
  b.write(ip, 21, 'latin1')
  return b
}

function reply(sock: net.Socket, body: Buffer, status = 0): void {
  const h = Buffer.alloc(10)
  h.writeBigInt64BE(BigInt(body.length))
  h[8] = 100
  h[9] = status
  sock.write(Buffer.concat([h, body]))
}

beforeAll(async () => {
  trackerPort = await freePort()
  server = net.createServer((sock) => {
    const conn = connNo++
    socks.add(sock)
    sock.on('close', () => socks.delete(sock))
    sock.on('error', () => {})
    let buf = Buffer.alloc(0)
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 10) {
        const len = Number(buf.readBigInt64BE(0))
        if (buf.length < 10 + len) return
        const cmd = buf[8]
        const body = buf.subarray(10, 10 + len)
        buf = buf.subarray(10 + len)
        seen.push({ cmd, body, conn })
        if (cmd === 82) return void sock.end()
        if (cmd === 60) reply(sock, Buffer.from('127.0.0.1'))
        else if (cmd === 75) reply(sock, Buffer.from('use_storage_id=0\nreserved_storage_space=1%\n'))
        else if (cmd === 81) reply(sock, Buffer.concat([Buffer.of(6), Buffer.alloc(16)]))
        else if (cmd === 87) reply(sock, Buffer.alloc(0))
        else if (cmd === 83) reply(sock, Buffer.concat([Buffer.of(4), brief(7, 1, '127.0.0.1', '127.0.0.1'), brief(7, 2, '127.0.0.2', '127.0.0.2')]))
        else if (cmd === 84) reply(sock, Buffer.of(0))
        else reply(sock, Buffer.alloc(0), 22)
      }
    })
  })
  await new Promise<void>((r) => server.listen(trackerPort, '127.0.0.1', r))
  st = await startTestStorage('fdfs-reporter', 'stat_report_interval = 1', trackerPort)
})

afterAll(async () => {
  await st?.destroy()
  for (const s of socks) s.destroy()
  await new Promise((r) => server.close(r))
})

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (pred()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`never saw ${what}`)
}

describe('storage → tracker reporting', () => {
  it('asks GET_MY_IP and PARAMETER_REQ on short connections, then JOINs with the V6.16.1 body', async () => {
    await until(() => seen.some((s) => s.cmd === 81), 'JOIN')
    const ip = seen.find((s) => s.cmd === 60)!
    expect(ip.body.length).toBe(21)
    expect(ip.body.subarray(0, 6).toString()).toBe('group1')
    expect(ip.body.readInt32BE(17)).toBe(st.port)
    expect(seen.find((s) => s.cmd === 75)!.body.length).toBe(0)
    const join = seen.find((s) => s.cmd === 81)!.body
    const lines = `127.0.0.1:${trackerPort}\n`
    expect(join.length).toBe(145 + lines.length)
    expect(join.subarray(0, 17).toString('latin1')).toBe('group1'.padEnd(17, '\0'))
    expect(Number(join.readBigInt64BE(17))).toBe(st.port)
    expect(Number(join.readBigInt64BE(25))).toBe(1) // store paths
    expect(Number(join.readBigInt64BE(33))).toBe(256) // subdirs
    expect(Number(join.readBigInt64BE(41))).toBe(10) // upload priority
    const joinTime = Number(join.readBigInt64BE(49))
    expect(Math.abs(joinTime - Date.now() / 1000)).toBeLessThan(120)
    expect(join.subarray(65, 73).toString('latin1')).toBe('6.16.1\0\0')
    expect(join[73]).toBe(1) // init_flag: initial sync not settled yet
    expect(join.subarray(75, 91).equals(Buffer.alloc(16))).toBe(true) // storage id (use_storage_id off)
    expect(join.subarray(91, 137).toString('latin1').replace(/\0+$/, '')).toBe('127.0.0.1')
    expect(Number(join.readBigInt64BE(137))).toBe(1)
    expect(join.subarray(145).toString()).toBe(lines)
    const joinConn = seen.find((s) => s.cmd === 81)!.conn
    expect(seen.find((s) => s.cmd === 60)!.conn).not.toBe(joinConn)
  })

  it('follows with SYNC_DEST_REQ, BEATs carrying the 348-byte stats block, and disk usage', async () => {
    await until(() => seen.some((s) => s.cmd === 87), 'SYNC_DEST_REQ')
    const c = await RawConn.connect(st.port)
    expect((await c.call(11, uploadBody(Buffer.from('counted')))).status).toBe(0)
    c.destroy()
    await until(() => seen.some((s) => s.cmd === 83 && s.body.length === 348 && Number(s.body.readBigInt64BE(12 + 8)) >= 1), 'BEAT with an upload counted')
    const beat = seen.filter((s) => s.cmd === 83 && s.body.length === 348).at(-1)!.body
    expect(Number(beat.readBigInt64BE(12))).toBeGreaterThanOrEqual(1) // total_upload_count
    expect(Number(beat.readBigInt64BE(12 + 21 * 8))).toBeGreaterThanOrEqual(7) // success_upload_bytes
    const disk = seen.find((s) => s.cmd === 84)!.body
    expect(disk.length).toBe(16)
    expect(Number(disk.readBigInt64BE(0))).toBeGreaterThan(0)
    // the group list from the change-flags reply reached the storage
    await until(() => st.daemon.log().includes('group membership changed'), 'peer list log')
  })

  it('re-joins after the tracker drops the connection', async () => {
    const joins = () => seen.filter((s) => s.cmd === 81).length
    const before = joins()
    for (const s of socks) s.destroy()
    await until(() => joins() > before, 'second JOIN')
    const join = seen.filter((s) => s.cmd === 81).at(-1)!.body
    expect(join[73]).toBe(0) // init_flag cleared once SYNC_DEST_REQ answered "no source"
  })
})
