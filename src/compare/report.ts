/**
 * Compare report: the data model every run produces, a markdown table (also
 * printed to stdout) and a self-contained HTML page with inline SVG charts.
 * Written to `compare/results/<timestamp>/{report.md,report.html,report.json}`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { spread, type Spread } from './stats.js'

export interface RepResult {
  ops: number
  bytes: number
  seconds: number
  errors: number
  p50: number
  p99: number
  /** CPU seconds per daemon during the rep. */
  cpu: Record<string, number>
  peakRss: Record<string, number>
  machineBusySeconds: number
  /** Replication backlog right after the rep, read from the daemons' /metrics (FastDFS: binlog bytes; MogileFS: queued fids). */
  replBacklog?: number
  /** Worst per-peer sync lag (s) right after the rep, from /metrics (FastDFS). */
  replLagSec?: number
  /**
   * Upload reps: seconds from the rep's start until its last uploads had a second copy (absent:
   * the target cannot tell, or they did not get one in time). ops / this = ops/s with two copies.
   */
  replicatedSeconds?: number
}

export interface CellResult {
  target: string
  op: string
  size: number
  clients: number
  reps: RepResult[]
}

export interface LagResult {
  target: string
  size: number
  /** Milliseconds from upload reply to the second copy being readable. */
  samples: number[]
  errors: number
}

export interface Report {
  startedAt: string
  command: string
  scenario: string
  machine: {
    cpus: number
    node: string
    memGiB: number
    /** Mean µs to create a 4 KiB file in the data dir before the run (absent: not probed). */
    createMicros?: number
    /** CPU ms per MiB written into a new file in the data dir before the run (absent: not probed). */
    writeMsPerMiB?: number
  }
  cells: CellResult[]
  lags: LagResult[]
  warnings: string[]
}

export interface CellSummary {
  target: string
  op: string
  size: number
  clients: number
  opsPerSec: Spread
  mbPerSec: Spread
  p50: number
  p99: number
  errors: number
  ops: number
  bytes: number
  cpuPerDaemon: Record<string, number>
  /**
   * Median over reps of the daemons' CPU (not the driver's) per operation, in µs; NaN when no
   * daemon was sampled (an external cluster on another machine).
   */
  serverCpuUsPerOp: number
  peakRssMiB: Record<string, number>
}

/** The daemons' CPU seconds in a rep (every sampled process but the driver). */
function serverCpu(r: RepResult): number {
  const v = Object.entries(r.cpu).filter(([k, x]) => k !== 'driver' && Number.isFinite(x))
  return v.length ? v.reduce((a, [, x]) => a + x, 0) : NaN
}

export function summarize(c: CellResult): CellSummary {
  const ops = c.reps.map((r) => r.ops / r.seconds)
  const mb = c.reps.map((r) => r.bytes / r.seconds / 1e6)
  const mid = (xs: number[]) => spread(xs).median
  const cpu: Record<string, number> = {}
  const rss: Record<string, number> = {}
  for (const r of c.reps) {
    for (const [k, v] of Object.entries(r.cpu)) (cpu[k] ??= 0), (cpu[k] += v / c.reps.length)
    for (const [k, v] of Object.entries(r.peakRss)) rss[k] = Math.max(rss[k] ?? 0, v / 2 ** 20)
  }
  return {
    target: c.target,
    op: c.op,
    size: c.size,
    clients: c.clients,
    opsPerSec: spread(ops),
    mbPerSec: spread(mb),
    p50: mid(c.reps.map((r) => r.p50)),
    p99: mid(c.reps.map((r) => r.p99)),
    errors: c.reps.reduce((a, r) => a + r.errors, 0),
    ops: c.reps.reduce((a, r) => a + r.ops, 0),
    bytes: c.reps.reduce((a, r) => a + r.bytes, 0),
    cpuPerDaemon: cpu,
    serverCpuUsPerOp: mid(c.reps.map((r) => (r.ops ? (serverCpu(r) / r.ops) * 1e6 : NaN))),
    peakRssMiB: rss,
  }
}

export function fmtSize(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`
  return `${n} B`
}

function num(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return '–'
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return x.toFixed(digits)
}

export function markdown(r: Report): string {
  const out: string[] = []
  out.push(`# tandemfs compare — ${r.scenario}`, '', `Run ${r.startedAt} on ${r.machine.cpus} CPUs, ${r.machine.memGiB} GiB, Node ${r.machine.node}${r.machine.createMicros !== undefined ? `; file create ${r.machine.createMicros} µs in the data dir` : ''}${r.machine.writeMsPerMiB !== undefined ? `; writes ${r.machine.writeMsPerMiB} ms CPU per MiB` : ''}.`, '', '```', r.command, '```', '')
  out.push('| target | op | size | clients | ops/s median [min–max] | MB/s | p50 ms | p99 ms | errors | CPU s per daemon | server CPU µs/op | peak RSS MiB |')
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const c of r.cells.map(summarize)) {
    const cpu = Object.entries(c.cpuPerDaemon).map(([k, v]) => `${k} ${num(v, 2)}`).join(', ')
    const rss = Object.entries(c.peakRssMiB).map(([k, v]) => `${k} ${num(v, 0)}`).join(', ')
    out.push(
      `| ${c.target} | ${c.op} | ${fmtSize(c.size)} | ${c.clients} | ${num(c.opsPerSec.median)} [${num(c.opsPerSec.min)}–${num(c.opsPerSec.max)}] | ${num(c.mbPerSec.median, 2)} | ${num(c.p50, 2)} | ${num(c.p99, 2)} | ${c.errors} | ${cpu} | ${num(c.serverCpuUsPerOp, 0)} | ${rss} |`,
    )
  }
  const backlog = r.cells.filter((c) => c.reps.some((x) => x.replBacklog !== undefined))
  if (backlog.length) {
    out.push('', '## Replication state right after each rep (from the daemons\' /metrics)', '', 'Backlog: FastDFS binlog bytes not yet acknowledged by peers; MogileFS fids queued for replication. Lag: worst per-peer sync lag in seconds (FastDFS).', '', '| target | op | size | clients | backlog per rep | lag s per rep |', '|---|---|---|---|---|---|')
    for (const c of backlog) out.push(`| ${c.target} | ${c.op} | ${fmtSize(c.size)} | ${c.clients} | ${c.reps.map((x) => x.replBacklog ?? '–').join(', ')} | ${c.reps.map((x) => x.replLagSec ?? '–').join(', ')} |`)
  }
  if (r.lags.length) {
    out.push('', '## Replication lag (upload reply → second copy readable)', '', '| target | size | samples | p50 ms | p90 ms | p99 ms | max ms | errors |', '|---|---|---|---|---|---|---|---|')
    for (const l of r.lags) {
      const s = [...l.samples].sort((a, b) => a - b)
      const p = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))] : NaN)
      out.push(`| ${l.target} | ${fmtSize(l.size)} | ${s.length} | ${num(p(50), 1)} | ${num(p(90), 1)} | ${num(p(99), 1)} | ${num(s[s.length - 1], 1)} | ${l.errors} |`)
    }
  }
  const twoCopies = r.cells.filter((c) => c.op === 'upload' && c.reps.length && c.reps.every((x) => x.replicatedSeconds !== undefined))
  if (twoCopies.length) {
    out.push(
      '',
      '## Uploads with two copies',
      '',
      'ops/s counting each rep until its last uploads had a second copy (checked with the same probe as the lag table): what a client gets when "stored" means "stored twice". Tail: seconds the last copies took after the rep ended (median).',
      '',
      '| target | size | clients | acknowledged ops/s | with two copies ops/s | MB/s | tail s |',
      '|---|---|---|---|---|---|---|',
    )
    for (const c of twoCopies) {
      const acked = spread(c.reps.map((x) => x.ops / x.seconds)).median
      const two = spread(c.reps.map((x) => x.ops / x.replicatedSeconds!)).median
      const mb = spread(c.reps.map((x) => x.bytes / x.replicatedSeconds! / 1e6)).median
      const tail = spread(c.reps.map((x) => x.replicatedSeconds! - x.seconds)).median
      out.push(`| ${c.target} | ${fmtSize(c.size)} | ${c.clients} | ${num(acked)} | ${num(two)} | ${num(mb, 2)} | ${num(tail, 2)} |`)
    }
  }
  const ratios = ratioRows(r)
  if (ratios.length) {
    out.push('', '## Ratios (ops/s, first target = 1.00)', '', '| op | size | clients | ' + ratios[0].targets.join(' | ') + ' |', '|---|---|---|' + ratios[0].targets.map(() => '---|').join(''))
    for (const row of ratios) out.push(`| ${row.op} | ${fmtSize(row.size)} | ${row.clients} | ${row.values.map((v) => num(v, 2)).join(' | ')} |`)
  }
  const cpuRatios = cpuRatioRows(r)
  if (cpuRatios.length) {
    out.push(
      '',
      '## Server CPU per operation (µs; ratio to the first target)',
      '',
      "Every sampled daemon's CPU inside the rep (an external cluster's too when it runs on this machine; the database and the driver are not counted), divided by the rep's operations; median of the reps. A system that replicates after acknowledging does part of an upload's work after the rep, which this leaves out: read upload rows with the two-copies table.",
      '',
      '| op | size | clients | ' + cpuRatios[0].targets.join(' | ') + ' |',
      '|---|---|---|' + cpuRatios[0].targets.map(() => '---|').join(''),
    )
    for (const row of cpuRatios) out.push(`| ${row.op} | ${fmtSize(row.size)} | ${row.clients} | ${row.values.map((v, i) => `${num(v, 0)}${i ? ` (${num(v / row.values[0], 2)})` : ''}`).join(' | ')} |`)
  }
  if (r.warnings.length) out.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`))
  return out.join('\n') + '\n'
}

/** Server CPU µs per op per cell, for cells where at least two targets were sampled. */
function cpuRatioRows(r: Report): Array<{ op: string; size: number; clients: number; targets: string[]; values: number[] }> {
  const sums = r.cells.map(summarize).filter((c) => Number.isFinite(c.serverCpuUsPerOp))
  const targets = [...new Set(sums.map((c) => c.target))]
  if (targets.length < 2) return []
  const byKey = new Map<string, Map<string, number>>()
  for (const c of sums) {
    const k = `${c.op}|${c.size}|${c.clients}`
    if (!byKey.has(k)) byKey.set(k, new Map())
    byKey.get(k)!.set(c.target, c.serverCpuUsPerOp)
  }
  const rows = []
  for (const [k, m] of byKey) {
    if (m.size < 2) continue
    const [op, size, clients] = k.split('|')
    rows.push({ op, size: Number(size), clients: Number(clients), targets, values: targets.map((t) => m.get(t) ?? NaN) })
  }
  return rows
}

function ratioRows(r: Report): Array<{ op: string; size: number; clients: number; targets: string[]; values: number[] }> {
  const targets = [...new Set(r.cells.map((c) => c.target))]
  if (targets.length < 2) return []
  const byKey = new Map<string, Map<string, number>>()
  for (const c of r.cells.map(summarize)) {
    const k = `${c.op}|${c.size}|${c.clients}`
    if (!byKey.has(k)) byKey.set(k, new Map())
    byKey.get(k)!.set(c.target, c.opsPerSec.median)
  }
  // Uploads counted until their second copy exists, where the target could tell (see tailReplicated).
  for (const c of r.cells) {
    if (c.op !== 'upload' || !c.reps.length || !c.reps.every((x) => x.replicatedSeconds !== undefined)) continue
    const k = `upload (2 copies)|${c.size}|${c.clients}`
    if (!byKey.has(k)) byKey.set(k, new Map())
    byKey.get(k)!.set(c.target, spread(c.reps.map((x) => x.ops / x.replicatedSeconds!)).median)
  }
  const rows = []
  for (const [k, m] of byKey) {
    const [op, size, clients] = k.split('|')
    const base = m.get(targets[0]) ?? NaN
    rows.push({ op, size: Number(size), clients: Number(clients), targets, values: targets.map((t) => (m.get(t) ?? NaN) / base) })
  }
  return rows
}

const COLORS = ['#3b7dd8', '#e0803a', '#4aa564', '#b05cc6', '#c9b33b', '#d14b4b']

/** A grouped horizontal bar chart as inline SVG. */
function barChart(title: string, groups: Array<{ label: string; bars: Array<{ series: string; value: number }> }>, series: string[], unit: string): string {
  const barH = 14
  const gap = 8
  const labelW = 190
  const w = 760
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))))
  let y = 30
  const parts: string[] = [`<text x="0" y="16" font-weight="bold">${esc(title)}</text>`]
  for (const g of groups) {
    parts.push(`<text x="0" y="${y + barH}" font-size="12">${esc(g.label)}</text>`)
    for (const b of g.bars) {
      const i = series.indexOf(b.series)
      const bw = Number.isFinite(b.value) ? ((w - labelW - 90) * b.value) / max : 0
      parts.push(`<rect x="${labelW}" y="${y}" width="${bw.toFixed(1)}" height="${barH - 2}" fill="${COLORS[i % COLORS.length]}"><title>${esc(b.series)}: ${num(b.value, 2)} ${unit}</title></rect>`)
      parts.push(`<text x="${labelW + bw + 4}" y="${y + barH - 3}" font-size="11">${num(b.value, 1)}</text>`)
      y += barH
    }
    y += gap
  }
  const legend = series.map((s, i) => `<tspan fill="${COLORS[i % COLORS.length]}">■</tspan> ${esc(s)}`).join('   ')
  parts.push(`<text x="0" y="${y + 14}" font-size="12">${legend} (${esc(unit)})</text>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${y + 24}" font-family="sans-serif">${parts.join('')}</svg>`
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
}

export function html(r: Report): string {
  const sums = r.cells.map(summarize)
  const series = [...new Set(sums.map((s) => s.target))]
  const keys = [...new Set(sums.map((s) => `${s.op} ${fmtSize(s.size)} ×${s.clients}`))]
  const groupsFor = (pick: (s: CellSummary) => number) =>
    keys.map((k) => ({ label: k, bars: sums.filter((s) => `${s.op} ${fmtSize(s.size)} ×${s.clients}` === k).map((s) => ({ series: s.target, value: pick(s) })) }))
  const charts = [
    barChart('Throughput (ops/s, median)', groupsFor((s) => s.opsPerSec.median), series, 'ops/s'),
    barChart('Throughput (MB/s, median)', groupsFor((s) => s.mbPerSec.median), series, 'MB/s'),
    barChart('Latency p50 (ms)', groupsFor((s) => s.p50), series, 'ms'),
    barChart('Latency p99 (ms)', groupsFor((s) => s.p99), series, 'ms'),
    barChart('CPU seconds, all daemons (mean per rep)', groupsFor((s) => Object.values(s.cpuPerDaemon).reduce((a, b) => a + b, 0)), series, 'CPU s'),
    barChart('Peak RSS, largest daemon (MiB)', groupsFor((s) => Math.max(0, ...Object.values(s.peakRssMiB))), series, 'MiB'),
  ]
  if (r.lags.length) {
    const lagSeries = [...new Set(r.lags.map((l) => l.target))]
    const lagKeys = [...new Set(r.lags.map((l) => fmtSize(l.size)))]
    const p = (xs: number[], q: number) => {
      const s = [...xs].sort((a, b) => a - b)
      return s.length ? s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))] : NaN
    }
    for (const q of [50, 99]) {
      charts.push(
        barChart(`Replication lag p${q} (ms)`, lagKeys.map((k) => ({ label: k, bars: r.lags.filter((l) => fmtSize(l.size) === k).map((l) => ({ series: l.target, value: p(l.samples, q) })) })), lagSeries, 'ms'),
      )
    }
  }
  const md = markdown(r)
  return `<!doctype html><html><head><meta charset="utf-8"><title>tandemfs compare ${esc(r.startedAt)}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}pre{background:#f4f4f4;padding:1em;overflow:auto;font-size:12px}svg{display:block;margin:1.5em 0}</style></head>
<body><h1>tandemfs compare — ${esc(r.scenario)}</h1><p>${esc(r.startedAt)} · ${r.machine.cpus} CPUs · Node ${esc(r.machine.node)}</p>
${r.warnings.length ? `<p style="color:#b00">${r.warnings.map(esc).join('<br>')}</p>` : ''}
${charts.join('\n')}
<h2>Table</h2><pre>${esc(md)}</pre></body></html>`
}

export function writeReport(r: Report, dir: string): { dir: string; md: string } {
  mkdirSync(dir, { recursive: true })
  const md = markdown(r)
  writeFileSync(path.join(dir, 'report.md'), md)
  writeFileSync(path.join(dir, 'report.html'), html(r))
  writeFileSync(path.join(dir, 'report.json'), JSON.stringify(r, null, 2))
  return { dir, md }
}
