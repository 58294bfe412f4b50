/**
 * The harness leaves nothing behind on an external cluster: a tiny scenario
 * runs against a real FastDFS group of ours treated as external (cleanUp set,
 * as main.ts sets it for --fastdfs-tracker), and afterwards neither storage
 * holds a single uploaded file. With cleanUp unset the files stay.
 */
import { readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runScenario, type Scenario } from '../src/compare/runner.js'
import { FastdfsTarget } from '../src/compare/targets.js'
import { startCluster, type Cluster } from '../src/deploy/local-cluster.js'
import { tmpDir } from '../test/helpers/proc.js'

let root: string
let c: Cluster

/**
 * Uploaded blobs (`.bin`) under every storage's store path. The daemons keep deleting and
 * syncing while this walks, so an entry may vanish between readdir and the look at it: it is
 * then simply not counted (settledCount repeats the walk until two agree).
 */
function storedFiles(dir: string, out: string[] = []): string[] {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out
    throw e
  }
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) storedFiles(p, out)
    else if (e.name.endsWith('.bin')) out.push(p)
  }
  return out
}

/** The count once sync has settled: unchanged for 300 ms. */
async function settledCount(dir: string): Promise<number> {
  let last = -1
  for (let i = 0; i < 100; i++) {
    const n = storedFiles(dir).length
    if (n === last) return n
    last = n
    await new Promise((res) => setTimeout(res, 300))
  }
  return last
}

beforeAll(async () => {
  root = tmpDir('compare-cleanup')
  c = await startCluster({ dir: path.join(root, 'cluster'), anyPorts: true, personalities: ['fastdfs'] })
}, 60_000)

afterAll(async () => {
  await c?.stop()
  rmSync(root, { recursive: true, force: true })
})

const scenario: Scenario = { name: 'cleanup', durationSec: 0.3, reps: 1, sizes: [4096], clients: [2], ops: ['upload', 'download'], warmup: 5, warmupSec: 0, settle: false }

describe('compare cleans up external clusters', () => {
  it('deletes every object it uploaded when the target asks for it, and only then', { timeout: 120_000 }, async () => {
    const dataDir = path.join(root, 'cluster', 'fastdfs')
    const kept = new FastdfsTarget('kept', [c.fastdfs!.tracker])
    const r1 = await runScenario(scenario, [kept], 'test', () => {})
    await kept.close()
    const left = await settledCount(dataDir)
    expect(r1.cells.find((x) => x.op === 'upload')!.reps[0].ops).toBeGreaterThan(0)
    expect(left).toBeGreaterThan(0)

    const cleaned = new FastdfsTarget('cleaned', [c.fastdfs!.tracker])
    cleaned.cleanUp = true
    const r2 = await runScenario(scenario, [cleaned], 'test', () => {})
    await cleaned.close()
    expect(r2.cells.find((x) => x.op === 'upload')!.reps[0].ops).toBeGreaterThan(0)
    expect(r2.warnings.filter((w) => w.includes('could not be deleted'))).toEqual([])
    // Only the first run's files remain, on both storages (deletes reach the peer through sync).
    expect(await settledCount(dataDir)).toBe(left)
  })
})
