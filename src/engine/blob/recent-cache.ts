/**
 * Bytes of recently written small blobs, kept by LocalBlobStore so that the
 * reads that typically follow a write within seconds — the sync sender pushing
 * the file to its peers, a client fetching what it just uploaded — are served
 * without open/fstat/read/close. At thousands of small uploads a second those
 * four syscalls per read are a measurable share of a storage's CPU.
 *
 * Only LocalBlobStore.putSmall inserts (the exact bytes it wrote, after the
 * rename made them visible); every operation that changes or removes a key
 * (or could change it through a hard link) evicts it first, and a read checks
 * the path still names the same inode, size and mtime (a file deleted or
 * replaced behind the store's back is read from disk). Bounded by bytes, oldest
 * insert evicted first. Absent key = read the file.
 */
export interface RecentEntry {
  buf: Buffer
  mtimeMs: number
  /** Inode of the file written; a read checks it (with size and mtime) against a stat of the path. */
  ino: number
}

export class RecentCache {
  private readonly map = new Map<string, RecentEntry>()
  private bytes = 0

  /** `maxBytes` 0 disables the cache. */
  constructor(private readonly maxBytes: number) {}

  get(key: string): RecentEntry | undefined {
    return this.map.get(key)
  }

  set(key: string, e: RecentEntry): void {
    if (this.maxBytes <= 0 || e.buf.length > this.maxBytes / 16) return
    this.delete(key)
    this.map.set(key, e)
    this.bytes += e.buf.length
    while (this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value as string
      this.delete(oldest)
    }
  }

  delete(key: string): void {
    const e = this.map.get(key)
    if (!e) return
    this.map.delete(key)
    this.bytes -= e.buf.length
  }
}
