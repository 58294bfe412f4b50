/**
 * Reads right after an upload never 404 on sync lag, through the protocol and
 * through the built-in HTTP server (http.server_port), with anti-steal tokens
 * (http.anti_steal.*): two of our storages + a tracker as real processes.
 */
import { existsSync, rmSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { genToken } from '../../../src/personalities/fastdfs/http/token.js'
import { startCluster, uploadTo, type Cluster } from '../../helpers/fdfs-cluster.js'
import { downloadBody, fixedField, groupName, RawConn, remoteOf, uploadBody } from '../../helpers/fdfs-raw.js'

const SECRET = 'FastDFS1234567890'
let c: Cluster

const url = (ip: string, remote: string, ts = Math.floor(Date.now() / 1000), token = genToken(SECRET, `group1/${remote}`, ts)) =>
  `http://${ip}:${c.httpPort}/group1/${remote}?token=${token}&ts=${ts}`

beforeAll(async () => {
  c = await startCluster({
    storages: 2,
    http: true,
    tag: 'fdfs-http-no404',
    storageConf: `http.anti_steal.check_token = true\nhttp.anti_steal.token_ttl = 900\nhttp.anti_steal.secret_key = ${SECRET}\n`,
  })
  await c.until(async () => (await c.list()).filter((s) => s.status === 7).length === 2, 'both storages ACTIVE')
})
afterAll(async () => {
  await c?.stop()
})

describe('no not-found right after upload', () => {
  it('protocol: 60 uploads on A, each read at once from B (download, file info, metadata) and via the tracker', async () => {
    const [a, b] = c.storages
    void a
    const up = await RawConn.connect(c.port, a.ip)
    const rd = await RawConn.connect(c.port, b.ip)
    const t = await RawConn.connect(c.trackers[0].port)
    try {
      for (let i = 0; i < 60; i++) {
        const data = Buffer.from(`fresh file ${i} `.repeat(20))
        const u = await up.call(11, uploadBody(data))
        expect(u.status).toBe(0)
        const remote = remoteOf(u.body)
        const dl = await rd.call(14, downloadBody('group1', remote))
        expect(dl.status).toBe(0)
        expect(dl.body.equals(data)).toBe(true)
        expect((await rd.call(22, groupName('group1', remote))).status).toBe(0)
        expect((await rd.call(15, groupName('group1', remote))).status).toBe(0)
        const f = await t.call(102, Buffer.concat([fixedField('group1', 16), Buffer.from(remote)]))
        expect(f.status).toBe(0)
        const ip = f.body.subarray(16, 31).toString('latin1').replace(/\0.*$/s, '')
        const via = await RawConn.connect(c.port, ip)
        expect((await via.call(14, downloadBody('group1', remote))).body.equals(data)).toBe(true)
        via.destroy()
      }
    } finally {
      up.destroy()
      rd.destroy()
      t.destroy()
    }
  })

  it('a storage lacking a fresh file proxies to its source; a peer connection is never proxied (no loops)', async () => {
    const [a, b] = c.storages
    const data = Buffer.from('only on the source')
    const remote = await uploadTo(a.ip, c.port, data)
    await c.until(() => existsSync(b.file(remote)), 'replica')
    rmSync(b.file(remote)) // simulate "not synced yet" deterministically
    const rd = await RawConn.connect(c.port, b.ip)
    const dl = await rd.call(14, downloadBody('group1', remote))
    expect(dl.status).toBe(0)
    expect(dl.body.equals(data)).toBe(true)
    const info = await rd.call(22, groupName('group1', remote))
    expect(info.status).toBe(0)
    expect(Number(info.body.readBigInt64BE(0))).toBe(data.length)
    // QUERY_FILE_INFO with the LOCAL_ONLY flag (4) reports only B's own copy: how replication is probed.
    expect((await rd.call(22, groupName('group1', remote), 7)).status).toBe(2)
    rd.destroy()
    // A connection that announced itself as a peer storage gets the plain answer.
    const peer = await RawConn.connect(c.port, b.ip)
    expect((await peer.call(9, fixedField(a.ip, 16))).status).toBe(0)
    expect((await peer.call(14, downloadBody('group1', remote))).status).toBe(2)
    peer.destroy()
    // HTTP on B proxies too.
    const res = await fetch(url(b.ip, remote))
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true)
    // A file that does not exist anywhere is still a clean not-found.
    const missing = remote.replace(/.{6}\.bin$/, 'AAAAAA.bin')
    expect((await (await RawConn.connect(c.port, b.ip)).call(14, downloadBody('group1', missing))).status).toBe(2)
  })

  it('HTTP: every storage serves a file uploaded a moment ago', async () => {
    const [a, b] = c.storages
    for (let i = 0; i < 30; i++) {
      const data = Buffer.from(`http fresh ${i}`)
      const remote = await uploadTo(a.ip, c.port, data, 'txt')
      for (const s of [b, a]) {
        const res = await fetch(url(s.ip, remote))
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
        expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true)
      }
    }
  })

  it('HTTP: bad or expired token → 403; `..` → 400 and reads nothing', async () => {
    const [a] = c.storages
    const remote = await uploadTo(a.ip, c.port, Buffer.from('guarded'), 'txt')
    expect((await fetch(url(a.ip, remote, Math.floor(Date.now() / 1000), '0'.repeat(32)))).status).toBe(403)
    const old = Math.floor(Date.now() / 1000) - 3600
    expect((await fetch(url(a.ip, remote, old))).status).toBe(403)
    expect((await fetch(`http://${a.ip}:${c.httpPort}/group1/${remote}`)).status).toBe(403)
    for (const p of ['/group1/M00/../../storage.conf', '/group1/M00/00/%2e%2e/%2e%2e/storage.conf', '/group1/M00/00/00/..%2f..%2fstorage.conf']) {
      const res = await fetch(`http://${a.ip}:${c.httpPort}${p}?token=x&ts=1`)
      expect([400, 403, 404]).toContain(res.status)
      expect(await res.text()).not.toContain('group_name')
    }
  })
})
