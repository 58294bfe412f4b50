/**
 * Loader for the byte-exact wire recordings in ../shared/fixtures (see its README):
 * JSON lines per TCP segment; this joins each connection's direction into one buffer.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './proc.js'

export const FIXTURES = path.resolve(ROOT, '../shared/fixtures')

export interface FixtureConn {
  conn: number
  leg: string
  client: string
  server: string
  c2s: Buffer
  s2c: Buffer
  /** The c2s/s2c segments in arrival order, for partial-read tests. */
  segments: Array<{ dir: 'c2s' | 's2c'; data: Buffer }>
}

export function loadFixture(rel: string): FixtureConn[] {
  const lines = readFileSync(path.join(FIXTURES, rel), 'utf8').split('\n').filter(Boolean)
  const conns = new Map<number, FixtureConn>()
  for (const l of lines) {
    const o = JSON.parse(l)
    if (o.event === 'open') {
      conns.set(o.conn, { conn: o.conn, leg: o.leg, client: o.client, server: o.server, c2s: Buffer.alloc(0), s2c: Buffer.alloc(0), segments: [] })
      continue
    }
    const c = conns.get(o.conn)
    if (!c || !o.hex) continue
    const data = Buffer.from(o.hex, 'hex')
    c.segments.push({ dir: o.dir, data })
    if (o.dir === 'c2s') c.c2s = Buffer.concat([c.c2s, data])
    else c.s2c = Buffer.concat([c.s2c, data])
  }
  return [...conns.values()]
}

export function fixtureFile(rel: string): Buffer {
  return readFileSync(path.join(FIXTURES, rel))
}
