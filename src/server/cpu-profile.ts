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

/** Starts the profilers whose variables are set; the returned function stops them and writes their files. */
export function startCpuProfile(name: string): () => Promise<void> {
  const cpu = startProfile(name, process.env.TANDEM_CPU_PROF, 'cpuprofile', ['Profiler.enable', {}], ['Profiler.start', {}], 'Profiler.stop')
  const heap = startProfile(
    name,
    process.env.TANDEM_HEAP_PROF,
    'heapprofile',
    ['HeapProfiler.enable', {}],
    ['HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }],
    'HeapProfiler.stopSampling',
  )
  return async () => {
    await cpu()
    await heap()
  }
}

/** One inspector profiler: started now, written to `<dir>/<name>-<pid>.<ext>` when stopped; absent dir = a no-op. */
function startProfile(name: string, dir: string | undefined, ext: string, enable: [string, object], start: [string, object], stop: string): () => Promise<void> {
  if (!dir) return async () => {}
  const s = new Session()
  s.connect()
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => s.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r))))
  const started = post(...enable).then(() => post(...start))
  return async () => {
    await started
    const r = (await post(stop)) as { profile: unknown }
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${name}-${process.pid}.${ext}`), JSON.stringify(r.profile))
    s.disconnect()
  }
}
