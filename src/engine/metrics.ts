/**
 * A small Prometheus text-format registry (counters and gauges with labels).
 *
 * Every daemon owns one `Metrics`; modules grab named series once and bump them
 * on hot paths (a Map lookup per label set). `/metrics` renders the text format
 * 0.0.4. Gauges may be computed at scrape time with `gaugeFn` (free space,
 * replication backlog) so nothing polls in the background for them.
 */

type Labels = Record<string, string | number>

/** One series' value, held by reference so a bound counter bumps it without a lookup. */
interface Cell {
  v: number
}

/**
 * A counter bound to one label set (see Metrics.counter): hot paths keep it and
 * call `inc`, a field increment instead of three map lookups per call.
 */
export interface Counter {
  inc(by?: number): void
}

interface Family {
  name: string
  help: string
  type: 'counter' | 'gauge'
  values: Map<string, Cell>
  fn?: () => Promise<Array<{ labels: Labels; value: number }>> | Array<{ labels: Labels; value: number }>
}

/** Label sets reused by callers (e.g. per command) render once. */
const keyCache = new WeakMap<Labels, string>()

function labelKey(l: Labels | undefined): string {
  if (!l) return ''
  const cached = keyCache.get(l)
  if (cached !== undefined) return cached
  const k = renderLabels(l)
  keyCache.set(l, k)
  return k
}

function renderLabels(l: Labels): string {
  const keys = Object.keys(l).sort()
  return keys.map((k) => `${k}="${String(l[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')
}

export class Metrics {
  private readonly families = new Map<string, Family>()

  private family(name: string, help: string, type: 'counter' | 'gauge'): Family {
    let f = this.families.get(name)
    if (!f) {
      f = { name, help, type, values: new Map() }
      this.families.set(name, f)
    }
    return f
  }

  /** Add `by` (default 1) to a counter. */
  inc(name: string, help: string, labels?: Labels, by = 1): void {
    const f = this.family(name, help, 'counter')
    this.cell(f, labelKey(labels)).v += by
  }

  private cell(f: Family, k: string): Cell {
    let c = f.values.get(k)
    if (!c) {
      c = { v: 0 }
      f.values.set(k, c)
    }
    return c
  }

  /** A counter series bound once, for hot paths (the series appears at 0 right away). */
  counter(name: string, help: string, labels?: Labels): Counter {
    const c = this.cell(this.family(name, help, 'counter'), labelKey(labels))
    return {
      inc(by = 1) {
        c.v += by
      },
    }
  }

  /** Set a gauge. */
  set(name: string, help: string, labels: Labels | undefined, value: number): void {
    this.cell(this.family(name, help, 'gauge'), labelKey(labels)).v = value
  }

  /** A gauge (or a counter kept elsewhere, such as the process's CPU seconds) computed at scrape time. */
  gaugeFn(name: string, help: string, fn: Family['fn'], type: 'gauge' | 'counter' = 'gauge'): void {
    this.family(name, help, type).fn = fn
  }

  /** Current value of one series (tests and the compare report read these). */
  get(name: string, labels?: Labels): number | undefined {
    return this.families.get(name)?.values.get(labelKey(labels))?.v
  }

  async render(): Promise<string> {
    const out: string[] = []
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
      for (const [k, c] of f.values) out.push(`${f.name}${k ? `{${k}}` : ''} ${c.v}`)
      if (f.fn) {
        try {
          for (const s of await f.fn()) out.push(`${f.name}${labelKey(s.labels) ? `{${labelKey(s.labels)}}` : ''} ${s.value}`)
        } catch {
          // a failing probe must not break the whole scrape
        }
      }
    }
    return out.join('\n') + '\n'
  }
}

/** Parse Prometheus text into `name{labels}` → value (used by the compare harness and tests). */
export function parsePrometheus(text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    m.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return m
}

/**
 * The registry of this process. Engine modules report into it (free space per
 * store, bytes written/read); front ends add per-command counters; the daemon
 * launcher serves it on `metrics_port`.
 */
export const processMetrics = new Metrics()

/** Gauges computed at scrape time may come from several sources (one per store): merged per family. */
const gaugeSources = new Map<string, Array<() => Array<{ labels: Labels; value: number }> | Promise<Array<{ labels: Labels; value: number }>>>>()

/** Add one source of samples to a scrape-time gauge family of `processMetrics`. */
export function addGaugeSource(
  name: string,
  help: string,
  fn: () => Array<{ labels: Labels; value: number }> | Promise<Array<{ labels: Labels; value: number }>>,
  type: 'gauge' | 'counter' = 'gauge',
): void {
  let list = gaugeSources.get(name)
  if (!list) {
    list = []
    gaugeSources.set(name, list)
    const sources = list
    processMetrics.gaugeFn(name, help, async () => (await Promise.all(sources.map((f) => Promise.resolve(f()).catch(() => [])))).flat(), type)
  }
  list.push(fn)
}
