/**
 * A wakeable sleep used by the queue-driven jobs: `sleep(ms)` resolves after
 * ms or at the next `wake()`, whichever comes first.
 */
export class Sleeper {
  private waiters = new Set<() => void>()

  sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const done = () => {
        clearTimeout(t)
        this.waiters.delete(done)
        r()
      }
      const t = setTimeout(done, ms)
      this.waiters.add(done)
    })
  }

  wake(): void {
    const ws = [...this.waiters]
    this.waiters.clear()
    for (const w of ws) w()
  }
}
