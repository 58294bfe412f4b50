/**
 * CPU seconds and RSS of processes, and whole-machine busy time, from /proc.
 * Used to report per-daemon cost next to throughput and to warn when the
 * machine was busy with something else during a run.
 * A process that has exited reads as absent (`undefined`).
 */
import { readdirSync, readFileSync } from 'node:fs'

const TICKS = 100 // USER_HZ on Linux

export interface ProcSample {
  cpuSeconds: number
  rssBytes: number
  /** Peak RSS since the process started (VmHWM). */
  peakRssBytes: number
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpu = (Number(f[11]) + Number(f[12])) / TICKS
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024
    return { cpuSeconds: cpu, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') }
  } catch {
    return undefined
  }
}

/**
 * CPU seconds of each root pid and all its descendants (utime + stime, plus
 * cutime + cstime: a worker that exited and was reaped still counts), from one
 * pass over /proc. Pre-forking servers (the real mogilefsd) do their work in
 * children; a single-process daemon reads the same as its own stat. A root that
 * is gone is absent.
 */
export function treeCpuSeconds(roots: number[]): Map<number, number> {
  const own = new Map<number, number>()
  const kids = new Map<number, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const pid = Number(d)
      const ppid = Number(f[1])
      own.set(pid, (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS)
      if (!kids.has(ppid)) kids.set(ppid, [])
      kids.get(ppid)!.push(pid)
    } catch {
      // the process ended while we looked
    }
  }
  const out = new Map<number, number>()
  for (const root of roots) {
    if (!own.has(root)) continue
    let sum = 0
    const stack = [root]
    const seen = new Set<number>()
    while (stack.length) {
      const p = stack.pop()!
      if (seen.has(p)) continue
      seen.add(p)
      sum += own.get(p) ?? 0
      stack.push(...(kids.get(p) ?? []))
    }
    out.set(root, sum)
  }
  return out
}

export interface MachineSample {
  busySeconds: number
  totalSeconds: number
}

/** Aggregate CPU line of /proc/stat. */
export function sampleMachine(): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = v[3] + (v[4] ?? 0)
  const total = v.reduce((a, b) => a + b, 0)
  return { busySeconds: (total - idle) / TICKS, totalSeconds: total / TICKS }
}

/** Tracks CPU used by a set of pids (each with its descendants) between start() and stop(), and peak RSS seen. */
export class CpuWindow {
  private start0 = new Map<number, number>()
  private peak = new Map<number, number>()
  private m0?: MachineSample
  private timer?: NodeJS.Timeout

  constructor(private readonly pids: Map<string, number>) {}

  start(): void {
    const t = treeCpuSeconds([...this.pids.values()])
    for (const [, pid] of this.pids) this.start0.set(pid, t.get(pid) ?? 0)
    this.m0 = sampleMachine()
    // Why 200 ms: RSS peaks of a streaming daemon last longer than that; VmHWM covers the rest.
    this.timer = setInterval(() => {
      for (const [, pid] of this.pids) {
        const s = sampleProc(pid)
        if (s) this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, s.rssBytes))
      }
    }, 200)
  }

  stop(): { perProcess: Record<string, { cpuSeconds: number; peakRssBytes: number }>; machineBusySeconds: number } {
    if (this.timer) clearInterval(this.timer)
    const perProcess: Record<string, { cpuSeconds: number; peakRssBytes: number }> = {}
    const t = treeCpuSeconds([...this.pids.values()])
    for (const [name, pid] of this.pids) {
      const s = sampleProc(pid)
      const cpu = t.get(pid)
      perProcess[name] = {
        cpuSeconds: cpu !== undefined ? cpu - (this.start0.get(pid) ?? 0) : NaN,
        peakRssBytes: Math.max(this.peak.get(pid) ?? 0, s?.rssBytes ?? 0),
      }
    }
    const m1 = sampleMachine()
    return { perProcess, machineBusySeconds: m1.busySeconds - (this.m0?.busySeconds ?? m1.busySeconds) }
  }
}

/**
 * Wait until the machine is quiet: CPU busy below `maxCores` over a 500 ms
 * window, or `capMs` passed. Returns the cores busy in the last window.
 *
 * Why: each target keeps working after its cell ends (the real FastDFS
 * replicates a burst of uploads over the next seconds, MogileFS's replicate
 * job drains its queue); without this the next target's cell, run on the
 * same two cores, pays for it. Every target gets the same treatment.
 */
export async function settle(maxCores = 0.3, capMs = 30_000): Promise<number> {
  const end = Date.now() + capMs
  let cores = Infinity
  while (Date.now() < end) {
    const a = sampleMachine()
    await new Promise((r) => setTimeout(r, 500))
    const b = sampleMachine()
    cores = (b.busySeconds - a.busySeconds) / 0.5
    if (cores < maxCores) break
  }
  return cores
}
