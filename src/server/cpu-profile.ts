/**
 * Developer aid: `TANDEM_CPU_PROF=<dir>` makes every daemon record a V8 CPU
 * profile from start to graceful stop and write it to
 * `<dir>/<name>-<pid>.cpuprofile` (open in Chrome DevTools). Node refuses
 * `--cpu-prof` in NODE_OPTIONS, and the daemons are children of `tandem up` /
 * `tandem compare`, so this is the way to profile a whole cluster in place.
 * `TANDEM_HEAP_PROF=<dir>` likewise records a sampling allocation profile
 * (`.heapprofile`) that keeps the samples of objects the GC already freed, so
 * it shows what a workload allocates (the garbage the GC spends its time on),
 * not only what is live at the end.
 * Called by server/daemon.ts; absent variables = no profiler, no cost.
 */
import { Session } from 'node:inspector'
import fs from 'node:fs'
import path from 'node:path'

/** Starts profiling if TANDEM_CPU_PROF is set; the returned function stops it and writes the file. */
export function startCpuProfile(name: string): () => Promise<void> {
  const dir = process.env.TANDEM_CPU_PROF
  const heap = startHeapProfile(name)
  if (!dir) return heap
  const s = new Session()
  s.connect()
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => s.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r))))
  const started = post('Profiler.enable').then(() => post('Profiler.start'))
  return async () => {
    await started
    const r = (await post('Profiler.stop')) as { profile: unknown }
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(r.profile))
    s.disconnect()
    await heap()
  }
}

/** The TANDEM_HEAP_PROF half: absent variable = a no-op stop function. */
function startHeapProfile(name: string): () => Promise<void> {
  const dir = process.env.TANDEM_HEAP_PROF
  if (!dir) return async () => {}
  const s = new Session()
  s.connect()
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => s.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r))))
  const started = post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  return async () => {
    await started
    const r = (await post('HeapProfiler.stopSampling')) as { profile: unknown }
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${name}-${process.pid}.heapprofile`), JSON.stringify(r.profile))
    s.disconnect()
  }
}
