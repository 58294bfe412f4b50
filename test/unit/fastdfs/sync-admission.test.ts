/**
 * The admission rule for large uploads (storage/sync-admission.ts): at most `max` large uploads
 * wait for their copies; the next one waits for the oldest; a peer that stops acknowledging
 * suspends the rule instead of holding uploads; no connected peer or max 0 means no rule.
 * `waitCopies` here is a controllable promise per position (the real one is PeerSender's
 * acknowledgement wait, exercised by the sync integration tests).
 */
import { describe, expect, it } from 'vitest'
import { SyncAdmission } from '../../../src/personalities/fastdfs/storage/sync-admission.js'

interface Pending {
  offset: number
  resolve: (v: boolean) => void
}

function harness(max: number, peers = 1) {
  const pending: Pending[] = []
  const calls: Array<{ offset: number; copies: number; ms: number }> = []
  const a = new SyncAdmission({
    max,
    stallMs: 10_000,
    offMs: 30_000,
    connectedPeers: () => peers,
    waitCopies: (pos, copies, ms) => {
      calls.push({ offset: pos.offset, copies, ms })
      return new Promise((resolve) => pending.push({ offset: pos.offset, resolve }))
    },
  })
  return { a, pending, calls }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('SyncAdmission', () => {
  it('admits up to max uploads, then waits for the oldest one to get its copies', async () => {
    const { a, pending, calls } = harness(2, 2)
    await a.admit()
    a.note({ index: 0, offset: 1 })
    await a.admit()
    a.note({ index: 0, offset: 2 })
    expect(a.waiting).toBe(2)
    expect(calls).toEqual([
      { offset: 1, copies: 2, ms: 10_000 },
      { offset: 2, copies: 2, ms: 10_000 },
    ])
    let admitted = false
    const third = a.admit().then(() => (admitted = true))
    await tick()
    expect(admitted).toBe(false)
    pending[1].resolve(true) // the newer one first: still waiting for the oldest
    await tick()
    expect(admitted).toBe(false)
    pending[0].resolve(true)
    await third
    expect(admitted).toBe(true)
    expect(a.waiting).toBe(1) // the newer one, already settled, is consumed by a later admit
  })

  it('suspends the rule when the oldest upload gets no copy in time', async () => {
    const { a, pending } = harness(1)
    await a.admit()
    a.note({ index: 0, offset: 1 })
    const second = a.admit()
    pending[0].resolve(false) // the peer is stuck
    await second
    // Suspended: nothing is tracked and nobody waits.
    a.note({ index: 0, offset: 2 })
    expect(a.waiting).toBe(0)
    await a.admit()
    await a.admit()
  })

  it('tracks nothing without a connected peer or with max 0', async () => {
    const lone = harness(1, 0)
    lone.a.note({ index: 0, offset: 1 })
    lone.a.note({ index: 0, offset: 2 })
    expect(lone.a.waiting).toBe(0)
    await lone.a.admit()
    const off = harness(0, 1)
    off.a.note({ index: 0, offset: 1 })
    expect(off.a.waiting).toBe(0)
    await off.a.admit()
    expect(off.calls).toEqual([])
  })
})
