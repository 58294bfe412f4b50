/**
 * Short-lived small buffers carved out of one larger allocation.
 *
 * Who calls it: the blob store's small-read path (a download reply of a few KiB with its
 * protocol header in front). Why: every Buffer of 4 KiB or more is an ArrayBuffer of its
 * own, and allocating and later collecting thousands of them a second showed up as a fifth
 * of a storage's CPU on 4 KiB downloads (mostly garbage collection). Node's own pool does
 * the same for buffers under 4 KiB. A slab stays in memory until every piece cut from it is
 * garbage, so pieces are for data that is sent and dropped, not for caches.
 */

/** Why 512 KiB: room for several 64 KiB pieces, and small enough that one piece kept longer pins little. */
const SLAB_SIZE = 512 * 1024

export class Slab {
  private buf = Buffer.allocUnsafe(SLAB_SIZE)
  private used = 0

  /** The slab with at least `max` free bytes from `offset` on (a fresh slab if this one is too full); then call `take`. */
  reserve(max: number): { buf: Buffer; offset: number } {
    if (max > SLAB_SIZE) return { buf: Buffer.allocUnsafe(max), offset: 0 }
    if (SLAB_SIZE - this.used < max) {
      this.buf = Buffer.allocUnsafe(SLAB_SIZE)
      this.used = 0
    }
    return { buf: this.buf, offset: this.used }
  }

  /** Claim `n` bytes at the offset `reserve` gave (from `buf`, the one it returned); returns them. */
  take(buf: Buffer, offset: number, n: number): Buffer {
    if (buf === this.buf) {
      // Keep pieces 8-byte aligned (readers of typed views expect it; cheap).
      this.used = Math.min(SLAB_SIZE, offset + ((n + 7) & ~7))
    }
    return buf.subarray(offset, offset + n)
  }
}
