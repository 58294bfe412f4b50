/**
 * Statistics for the compare harness: percentiles by linear interpolation
 * between closest ranks (the common "type 7" definition), median, spread.
 * Absent data (empty sample) yields NaN, which the report prints as "–".
 */

export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b)
}

/** p in [0, 100]. `xs` need not be sorted. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN
  const s = sorted(xs)
  if (s.length === 1) return s[0]
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (s.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return s[lo] + (s[hi] - s[lo]) * (rank - lo)
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50)
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN
}

export interface Spread {
  median: number
  min: number
  max: number
  /** (max - min) / median, a scale-free measure of run-to-run noise. */
  relRange: number
  n: number
}

export function spread(xs: readonly number[]): Spread {
  if (!xs.length) return { median: NaN, min: NaN, max: NaN, relRange: NaN, n: 0 }
  const s = sorted(xs)
  const med = median(s)
  return { median: med, min: s[0], max: s[s.length - 1], relRange: med ? (s[s.length - 1] - s[0]) / med : NaN, n: s.length }
}

/**
 * Latency histogram that keeps every sample up to a cap and then reservoir-
 * samples, so percentiles stay exact for short runs and bounded in memory for
 * long ones.
 */
export class LatencyRecorder {
  private samples: number[] = []
  private seen = 0
  constructor(private readonly cap = 200_000) {}

  add(ms: number): void {
    this.seen++
    if (this.samples.length < this.cap) this.samples.push(ms)
    else {
      const j = Math.floor(Math.random() * this.seen)
      if (j < this.cap) this.samples[j] = ms
    }
  }

  merge(o: LatencyRecorder): void {
    for (const s of o.samples) this.add(s)
  }

  get count(): number {
    return this.seen
  }

  percentile(p: number): number {
    return percentile(this.samples, p)
  }
}
