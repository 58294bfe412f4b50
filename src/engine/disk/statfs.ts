/**
 * Volume size and free space from statfs(2), cached briefly.
 *
 * Why a cache: uploads check free space before streaming; a statfs per upload
 * would be a threadpool round trip on the hot path. 500 ms of staleness is fine
 * because the reserved margin (default 20% in FastDFS) dwarfs what can be
 * written in that time, and bytes we write ourselves are subtracted meanwhile.
 */
import { statfs } from 'node:fs/promises'

const CACHE_MS = 500

export class VolumeSpace {
  private cached?: { at: number; total: number; free: number }
  private writtenSince = 0

  constructor(readonly dir: string) {}

  async read(): Promise<{ totalBytes: number; freeBytes: number }> {
    const now = Date.now()
    if (!this.cached || now - this.cached.at > CACHE_MS) {
      const s = await statfs(this.dir)
      this.cached = { at: now, total: Number(s.blocks) * Number(s.bsize), free: Number(s.bavail) * Number(s.bsize) }
      this.writtenSince = 0
    }
    return { totalBytes: this.cached.total, freeBytes: Math.max(0, this.cached.free - this.writtenSince) }
  }

  /**
   * The cached figures while they are fresh, else undefined (and a refresh starts in the
   * background, so a steady stream of callers finds them fresh again). Called by
   * synchronous write paths, which fall back to `read` when this is undefined.
   */
  readNow(): { totalBytes: number; freeBytes: number } | undefined {
    if (this.cached && Date.now() - this.cached.at <= CACHE_MS) {
      return { totalBytes: this.cached.total, freeBytes: Math.max(0, this.cached.free - this.writtenSince) }
    }
    if (!this.refreshing) {
      this.refreshing = this.read()
        .catch(() => undefined)
        .then(() => {
          this.refreshing = undefined
        })
    }
    return undefined
  }

  private refreshing?: Promise<void>

  /** Account for bytes we are about to write, until the next statfs. */
  charge(bytes: number): void {
    this.writtenSince += bytes
  }
}
