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

/**
 * The loop of a queue-driven job: run `step` until `stopped()`; when a step found
 * nothing to do, sleep `idleMs` or until the sleeper is woken. A failing step is
 * reported to `onError` and the loop goes on (one bad fid must not stop a job).
 */
export async function jobLoop(o: { step: () => Promise<boolean>; sleeper: Sleeper; idleMs: number; stopped: () => boolean; onError: (e: unknown) => void }): Promise<void> {
  while (!o.stopped()) {
    let worked = false
    try {
      worked = await o.step()
    } catch (e) {
      o.onError(e)
    }
    if (!worked) await o.sleeper.sleep(o.idleMs)
  }
}
