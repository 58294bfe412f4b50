/**
 * A one-line progress bar on stderr for large transfers, shown only when
 * stderr is a terminal (pipes and logs stay clean) and the size is large.
 */
const MIN_BYTES = 16 * 1024 * 1024
/** Redraw at most every 200 ms: fast enough to look live, cheap on large files. */
const REDRAW_MS = 200

/** Returns an `onProgress(bytes)` callback and a `done()`; both no-ops when not shown. */
export function progressBar(total: number | undefined, label: string): { update: (n: number) => void; done: () => void } {
  // Unknown total (stdin, downloads): start drawing once the transfer got large.
  const show = process.stderr.isTTY && (total === undefined || total >= MIN_BYTES)
  if (!show) return { update: () => {}, done: () => {} }
  let last = 0
  let shown = false
  const start = Date.now()
  const draw = (n: number) => {
    const secs = Math.max(0.001, (Date.now() - start) / 1000)
    const rate = `${(n / 1048576 / secs).toFixed(1)} MiB/s`
    const text = total
      ? `${label} ${((n * 100) / total).toFixed(1).padStart(5)}% ${(n / 1048576).toFixed(1)}/${(total / 1048576).toFixed(1)} MiB ${rate}`
      : `${label} ${(n / 1048576).toFixed(1)} MiB ${rate}`
    process.stderr.write(`\r${text}\x1b[K`)
    shown = true
  }
  let latest = 0
  return {
    update: (n) => {
      latest = n
      const now = Date.now()
      if (now - last >= REDRAW_MS && (total !== undefined || n >= MIN_BYTES)) {
        last = now
        draw(n)
      }
    },
    done: () => {
      if (shown) {
        draw(latest)
        process.stderr.write('\n')
      }
    },
  }
}
