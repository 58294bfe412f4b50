/**
 * Weighted random ordering (the reference's weighted shuffle): items with a
 * larger weight tend to come first; weight <= 0 items go last in random order.
 * Used by create_open (free space), get_paths (utilisation/weight) and the
 * replication policy.
 */
export function weightedShuffle<T>(items: T[], weight: (t: T) => number): T[] {
  const pool = items.map((t) => ({ t, w: Math.max(0, weight(t)) }))
  const out: T[] = []
  while (pool.length) {
    const total = pool.reduce((s, p) => s + p.w, 0)
    let idx = 0
    if (total > 0) {
      let r = Math.random() * total
      idx = pool.findIndex((p) => (r -= p.w) < 0)
      if (idx < 0) idx = pool.length - 1
    } else idx = Math.floor(Math.random() * pool.length)
    out.push(pool[idx].t)
    pool.splice(idx, 1)
  }
  return out
}
