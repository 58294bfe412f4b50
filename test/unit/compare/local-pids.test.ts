/**
 * Finding an external cluster's local daemons by their listening address, and
 * charging a pre-forking server's workers to it (compare/local-pids.ts,
 * proc-sampler.ts treeCpuSeconds), against real child processes.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { listeningPid, localPids } from '../../../src/compare/local-pids.js'
import { treeCpuSeconds } from '../../../src/compare/proc-sampler.js'
import { tmpDir } from '../../helpers/proc.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

/**
 * A parent that listens on 127.0.0.1:0 and forks a worker holding the same socket (the shape of a
 * pre-forking server); the worker burns CPU when told to. Messages: {port, worker} once ready.
 */
function preforkServer(): Promise<{ proc: ChildProcess; port: number; worker: number }> {
  const dir = tmpDir('prefork')
  const main = path.join(dir, 'main.cjs')
  const worker = path.join(dir, 'worker.cjs')
  writeFileSync(
    worker,
    `process.on('disconnect', () => process.exit(0)); process.on('message', (m, h) => { if (m === 'burn') { const c = process.cpuUsage(); const t = Date.now(); while (Date.now() - t < 10000) { const u = process.cpuUsage(c); if (u.user + u.system >= 400000) break } process.send('burnt') } else if (h) { global.h = h; process.send('ready') } })`,
  )
  writeFileSync(
    main,
    `const net = require('net'); const { fork } = require('child_process')
     const s = net.createServer(() => {}).listen(0, '127.0.0.1', () => {
       const w = fork(${JSON.stringify(worker)})
       w.on('message', (m) => { if (m === 'ready') process.send({ port: s.address().port, worker: w.pid }); else process.send(m) })
       process.on('message', (m) => w.send(m))
       w.send('server', s)
     })`,
  )
  const proc = fork(main)
  children.push(proc)
  return new Promise((resolve, reject) => {
    proc.once('message', (m: { port: number; worker: number }) => resolve({ proc, ...m }))
    proc.once('exit', () => reject(new Error('server exited')))
  })
}

describe('local daemons of an external cluster', () => {
  it('finds the root process listening on an address, not its forked worker, and nothing elsewhere', async () => {
    const { proc, port, worker } = await preforkServer()
    expect(worker).not.toBe(proc.pid)
    expect(listeningPid('127.0.0.1', port)).toBe(proc.pid)
    expect(listeningPid('127.0.0.2', port)).toBeUndefined() // bound to .1 only
    const m = localPids([
      { name: 'tracker', host: '127.0.0.1', port },
      { name: 'elsewhere', host: '127.0.0.1', port: 1 },
    ])
    expect([...m]).toEqual([['tracker', proc.pid]])
  })

  it("counts the workers' CPU to the root", async () => {
    const { proc } = await preforkServer()
    const before = treeCpuSeconds([proc.pid!]).get(proc.pid!)!
    proc.send('burn')
    await new Promise((r) => proc.once('message', r))
    const after = treeCpuSeconds([proc.pid!]).get(proc.pid!)!
    expect(after - before).toBeGreaterThan(0.3) // the worker burnt 400 ms of its own CPU
    expect(treeCpuSeconds([2 ** 22 + 12345]).size).toBe(0) // no such process: absent
  })
})
