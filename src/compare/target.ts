/**
 * What the compare runner needs from a system under test. One implementation
 * per protocol (FastDFS, MogileFS); each speaks its protocol natively through
 * our client libraries, with persistent connections (no CLI process per op),
 * so the same driver can measure our personalities and any external cluster.
 */

export interface Target {
  /** Label in the report, e.g. `tandem-fastdfs`, `real-mogilefs`. */
  readonly name: string
  /** Upload a body of `body.length` bytes; resolves with an id usable by download/delete. */
  upload(body: Buffer): Promise<string>
  /** Download the whole object, discarding bytes; resolves with the byte count. */
  download(id: string): Promise<number>
  /** Delete the object. */
  delete(id: string): Promise<void>
  /**
   * Resolves when a second copy of `id` is readable (polling as fast as the
   * protocol allows); absent when the target has no way to tell.
   */
  waitSecondCopy?(id: string, timeoutMs: number): Promise<void>
  /** Daemon processes to sample for CPU/RSS (name → pid); empty for external clusters. */
  pids(): Map<string, number>
  /** Optional `/metrics` URLs of the daemons, read into the report (lag, backlog). */
  metricsUrls?(): string[]
  /**
   * True when the objects a run uploaded must be deleted when it ends: an external cluster, which
   * would otherwise keep every benchmark file. Absent/false: the harness tears the cluster down.
   */
  cleanUp?: boolean
  close(): Promise<void>
}

/** Resolve after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
