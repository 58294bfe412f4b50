/**
 * Fixed-size buffers lent to one owner at a time and taken back for the next. Who calls it:
 * LocalBlobStore's streamed put (two batch buffers per body being written). `take` never fails
 * (an empty pool allocates a new buffer); `give` keeps at most `keep` idle buffers and drops the
 * rest to the GC. The giver must not touch a buffer after giving it back: the next taker owns it.
 */
export class BufferPool {
  private readonly idle: Buffer[] = []

  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    // allocUnsafeSlow: a buffer of its own (never a slice of Node's shared pool), since it is reused.
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  give(b: Buffer): void {
    if (b.length === this.size && this.idle.length < this.keep && !this.idle.includes(b)) this.idle.push(b)
  }

  /** Idle buffers held (tests). */
  get idleCount(): number {
    return this.idle.length
  }
}
