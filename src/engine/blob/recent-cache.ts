/**
 * Bytes of recently written small blobs, kept by LocalBlobStore so that the
 * reads that typically follow a write within seconds — the sync sender pushing
 * the file to its peers, a client fetching what it just uploaded — are served
 * without open/fstat/read/close. At thousands of small uploads a second those
 * four syscalls per read are a measurable share of a storage's CPU.
 *
 * Only LocalBlobStore's small commits insert (the exact bytes they wrote, after
 * the link or rename made them visible); every operation that changes or removes
 * a key (or could change it through a hard link) evicts it first, and a read
 * checks the path still names the same inode, size and mtime (a file deleted or
 * replaced behind the store's back is read from disk). Absent key = read the file.
 *
 * The bytes live in one ring buffer allocated once, copied in at insert, and the
 * oldest entries are dropped as the ring wraps over them. Why not keep each
 * written Buffer: a 4 KiB Buffer is an ArrayBuffer of its own, and one kept for a
 * few hundred milliseconds outlives two scavenges, is promoted, and its bytes then
 * count towards V8's old-generation limit; at thousands of uploads a second that
 * forced a full mark-compact every ~250 ms (~7% of a storage's CPU, measured:
 * 13–16 mark-compacts in a 4 s run of 4 KiB uploads with per-entry Buffers, 2–4
 * without the cache). The ring is one long-lived allocation, so caching costs a
 * memcpy and no garbage.
 */

/** A cache hit: `buf` is a view into the ring, valid only until the next `set` — copy out of it at once. */
export interface RecentHit {
  buf: Buffer
  mtimeMs: number
  /** Inode of the file written; a read checks it (with size and mtime) against a stat of the path. */
  ino: number
}

interface Slot {
  /** Position of the first byte in the ring's unbounded byte sequence (ring offset = start % capacity). */
  start: number
  len: number
  mtimeMs: number
  ino: number
}

export class RecentCache {
  private readonly map = new Map<string, Slot>()
  private ring: Buffer | undefined
  /** Bytes ever placed (including skipped tails at wrap-around): the next entry starts here. */
  private head = 0

  /** `maxBytes` 0 disables the cache. The ring is allocated at the first insert. */
  constructor(private readonly maxBytes: number) {}

  /** The entry of `key`, or undefined (absent, or its bytes were overwritten). */
  get(key: string): RecentHit | undefined {
    const s = this.map.get(key)
    if (!s || !this.ring) return undefined
    const off = s.start % this.maxBytes
    return { buf: this.ring.subarray(off, off + s.len), mtimeMs: s.mtimeMs, ino: s.ino }
  }

  /** Keep a copy of `data` as the bytes of `key` (entries over 1/16 of the ring are not kept). */
  set(key: string, data: Uint8Array, mtimeMs: number, ino: number): void {
    const cap = this.maxBytes
    const len = data.length
    if (cap <= 0 || len > cap / 16) {
      this.map.delete(key)
      return
    }
    this.map.delete(key)
    this.ring ??= Buffer.allocUnsafeSlow(cap)
    // Entries are contiguous: one that would run past the end starts at the next lap.
    let start = this.head
    if ((start % cap) + len > cap) start += cap - (start % cap)
    this.head = start + len
    // Drop, oldest first, every entry whose bytes this one (or the skipped tail) overwrites.
    const floor = this.head - cap
    for (const [k, s] of this.map) {
      if (s.start >= floor) break
      this.map.delete(k)
    }
    this.ring.set(data, start % cap)
    this.map.set(key, { start, len, mtimeMs, ino })
  }

  delete(key: string): void {
    this.map.delete(key)
  }
}
