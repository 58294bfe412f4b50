/**
 * Syncing to a peer that is not one of ours (a real FastDFS storage). Seen against V6.16.1: it
 * serves one request per connection at a time on edge-triggered epoll, and a whole request that
 * arrives while it is still busy with the previous one is never read, so a sender that pipelines
 * hangs. The real storage answers our TANDEM_PIPELINE_PROBE with EINVAL and closes the connection
 * (recorded by hand: reply `00000000000000006416`, then FIN).
 *
 * The peer here is a protocol double of that storage (an external system, not ours): it answers
 * the probe like V6.16.1, applies nothing, and counts every request that had already arrived whole
 * before the previous reply went out. The sender must send one request at a time per connection
 * (still spreading large files over several), and a peer that swallows a request without a reply
 * must cost a reconnect after network_timeout, not the lane.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { PeerSender } from '../../../src/personalities/fastdfs/sync/peer-sender.js'
import { drainSender, senderScenario } from '../../helpers/sync-sender-fixture.js'

interface StrictPeer {
  port: number
  /** Requests found complete in the buffer before the reply to the previous one was sent. */
  pipelined: number
  syncRequests: number
  probes: number
  /** Connections that announced themselves (REPORT_SERVER_ID): lanes. */
  lanes: number
  /** Connections with a sync request open at the same time, at most. */
  mostBusy: number
  close(): Promise<void>
}

const EINVAL = 22

async function strictPeer(opts: { swallowFirst?: boolean } = {}): Promise<StrictPeer> {
  let swallow = !!opts.swallowFirst
  let busy = 0
  const conns = new Set<net.Socket>()
  const peer: StrictPeer = { port: 0, pipelined: 0, syncRequests: 0, probes: 0, lanes: 0, mostBusy: 0, close: async () => {} }
  const server = net.createServer((sock) => {
    conns.add(sock)
    sock.on('close', () => conns.delete(sock))
    sock.on('error', () => {})
    let buf = Buffer.alloc(0)
    let replying = false
    const reply = (status: number) => {
      const h = Buffer.alloc(10)
      h[8] = 100
      h[9] = status
      sock.write(h)
    }
    const pump = () => {
      while (!replying && buf.length >= 10) {
        const len = Number(buf.readBigInt64BE(0))
        if (buf.length < 10 + len) return
        const cmd = buf[8]
        buf = buf.subarray(10 + len)
        // Anything already here now was sent before our reply: pipelined.
        if (buf.length > 0 && cmd !== 9) peer.pipelined++
        if (cmd === 252) {
          peer.probes++
          reply(EINVAL)
          sock.end()
          return
        }
        if (cmd === 9) {
          peer.lanes++
          reply(0)
          continue
        }
        peer.syncRequests++
        if (swallow) {
          swallow = false
          return // never answered: the sender's watchdog must give up on this connection
        }
        // Answer a moment later, as a storage that writes the file first.
        replying = true
        busy++
        peer.mostBusy = Math.max(peer.mostBusy, busy)
        setTimeout(() => {
          busy--
          replying = false
          reply(0)
          pump()
        }, 1)
      }
    }
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d
      pump()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  peer.port = (server.address() as net.AddressInfo).port
  peer.close = () =>
    new Promise<void>((r) => {
      for (const c of conns) c.destroy()
      server.close(() => r())
    })
  return peer
}

let cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

describe('sync sender: a peer that takes one request at a time (a real storage)', () => {
  it('never pipelines to it, and still spreads large files over several connections', async () => {
    const peer = await strictPeer()
    cleanup.push(() => peer.close())
    const { bl, ts, make, src } = await senderScenario('strict', 2)
    cleanup.push(() => bl.close())
    let records = 0
    for (let i = 0; i < 12; i++) {
      const big = await make(300_000 + i)
      await bl.append(`${ts} C ${big.remote}`)
      const small = await make(100 + i)
      await bl.append(`${ts} C ${small.remote}`)
      await bl.append(`${ts} D ${small.remote}`)
      records += 3
    }
    const sender = new PeerSender(src, { id: `127.0.0.1_${peer.port}`, host: '127.0.0.1', port: peer.port })
    cleanup.push(() => sender.stop())
    sender.start()
    await drainSender(sender, records, () => {})
    expect(peer.probes, 'asked once, on a connection of its own').toBe(1)
    expect(peer.syncRequests).toBe(records)
    expect(peer.pipelined, 'requests sent before the previous reply').toBe(0)
    expect(peer.lanes).toBeGreaterThan(1)
    expect(peer.mostBusy, 'lanes busy at once').toBeGreaterThan(1)
  })

  it('gives up on a connection whose request got no reply for network_timeout, and re-sends', async () => {
    const peer = await strictPeer({ swallowFirst: true })
    cleanup.push(() => peer.close())
    const { bl, ts, make, src } = await senderScenario('swallow', 1)
    cleanup.push(() => bl.close())
    src.networkTimeoutMs = 400
    const files = []
    for (let i = 0; i < 5; i++) {
      const f = await make(1000 + i)
      files.push(f)
      await bl.append(`${ts} C ${f.remote}`)
    }
    const sender = new PeerSender(src, { id: `127.0.0.1_${peer.port}`, host: '127.0.0.1', port: peer.port })
    cleanup.push(() => sender.stop())
    sender.start()
    await drainSender(sender, files.length, () => {})
    expect(sender.status().connectionsOpened, 'reconnected after the stall').toBeGreaterThan(1)
    // The swallowed request and everything after it were sent again on the new connection.
    expect(peer.syncRequests).toBeGreaterThanOrEqual(files.length + 1)
    expect(peer.pipelined).toBe(0)
  })
})
