/**
 * A small Prometheus text-format registry (counters and gauges with labels).
 *
 * Every daemon owns one `Metrics`; modules grab named series once and bump them
 * on hot paths (a Map lookup per label set). `/metrics` renders the text format
 * 0.0.4. Gauges may be computed at scrape time with `gaugeFn` (free space,
 * replication backlog) so nothing polls in the background for them.
 */

type Labels = Record<string, string | number>

interface Family {
  name: string
  help: string
  type: 'counter' | 'gauge'
  values: Map<string, number>
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
    const k = labelKey(labels)
    f.values.set(k, (f.values.get(k) ?? 0) + by)
  }

  /** Set a gauge. */
  set(name: string, help: string, labels: Labels | undefined, value: number): void {
    this.family(name, help, 'gauge').values.set(labelKey(labels), value)
  }

  /** A gauge (or a counter kept elsewhere, such as the process's CPU seconds) computed at scrape time. */
  gaugeFn(name: string, help: string, fn: Family['fn'], type: 'gauge' | 'counter' = 'gauge'): void {
    this.family(name, help, type).fn = fn
  }

  /** Current value of one series (tests and the compare report read these). */
  get(name: string, labels?: Labels): number | undefined {
    return this.families.get(name)?.values.get(labelKey(labels))
  }

  async render(): Promise<string> {
    const out: string[] = []
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
      for (const [k, v] of f.values) out.push(`${f.name}${k ? `{${k}}` : ''} ${v}`)
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
