/**
 * Append-only, line-oriented change log with durable per-peer cursors.
 *
 * The engine treats records as opaque single-line strings; a personality decides
 * their format (FastDFS writes `<ts> <op> <filename>[ extra]`). Files are
 * `<dir>/<prefix>.000`, `.001`, ... rotated at `rotateBytes`; the current file
 * number is kept in `<dir>/<prefix>_index.dat` as `current_write=N`.
 *
 * Who calls it: the storage side appends one record per change it makes or
 * applies; replication senders read from their peer's cursor and save it after
 * the peer acknowledged. A cursor that was never saved is absent and reads
 * start at the beginning `{index: 0, offset: 0}`.
 *
 * Durability: records are written with write(2) as soon as the current batch is
 * flushed (appends in one tick share one write), so an acknowledged record
 * survives a process crash. With `fsync: true` the batch is also fdatasync'ed.
 * `appendHeld` records wait in memory for the caller's `flushHeld` (at the
 * latest the end of the event-loop turn); the caller acknowledges them only
 * after that, so the same holds for them.
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import * as fsp from 'node:fs/promises'
import path from 'node:path'
import { logger } from '../../log.js'

const log = logger('engine.binlog')

export interface BinlogPosition {
  index: number
  offset: number
}

export interface BinlogOptions {
  dir: string
  prefix?: string
  /** Rotate to a new file once the current one reaches this size (default 1 GiB, like FastDFS). */
  rotateBytes?: number
  fsync?: boolean
}

export interface BinlogCursor extends BinlogPosition {
  /** Extra fields a personality keeps next to the position (e.g. FastDFS need_sync_old). */
  extra: Record<string, string>
}

export function comparePos(a: BinlogPosition, b: BinlogPosition): number {
  return a.index !== b.index ? a.index - b.index : a.offset - b.offset
}

export class Binlog extends EventEmitter {
  private fd = -1
  /** Async view of `fd` for the fsync batching path. */
  private fh?: FdHandle
  private index = 0
  private size = 0
  private pending: string[] = []
  private pendingWaiters: Array<{ resolve: (p: BinlogPosition) => void; reject: (e: unknown) => void; at: number }> = []
  private flushing?: Promise<void>
  private readonly prefix: string
  private readonly rotateBytes: number
  private closed = false
  /** Records flushed by this process (see `appendedRecords`). */
  private appended = 0
  /** Sizes of finished (rotated-away) files: they never change, so each is stat'ed once. */
  private readonly doneSizes = new Map<number, number>()
  /** Records taken by `appendHeld` and not yet written (each with its newline), and their bytes. */
  private held: string[] = []
  private heldBytes = 0
  /** The end-of-turn write of held records nobody flushed earlier (see appendHeld). */
  private heldFlush?: NodeJS.Immediate
  /** The last write of held records failed: no synchronous appends until one succeeds (see canAppendNow). */
  private heldFailed = false

  private constructor(private readonly o: BinlogOptions) {
    super()
    this.prefix = o.prefix ?? 'binlog'
    this.rotateBytes = o.rotateBytes ?? 1024 ** 3
    this.setMaxListeners(0)
  }

  static async open(o: BinlogOptions): Promise<Binlog> {
    const b = new Binlog(o)
    await fsp.mkdir(o.dir, { recursive: true })
    b.index = await b.readIndex()
    b.fd = fs.openSync(b.fileName(b.index), 'a')
    b.fh = new FdHandle(b.fd)
    b.size = fs.fstatSync(b.fd).size
    await b.trimTornTail()
    return b
  }

  /** A crash can leave a last line without its newline; drop it so readers never parse half a record. */
  private async trimTornTail(): Promise<void> {
    if (this.size === 0) return
    const buf = Buffer.alloc(Math.min(this.size, 64 * 1024))
    const r = await fsp.open(this.fileName(this.index), 'r')
    try {
      await r.read(buf, 0, buf.length, this.size - buf.length)
    } finally {
      await r.close()
    }
    if (buf[buf.length - 1] === 0x0a) return
    const nl = buf.lastIndexOf(0x0a)
    const keep = nl < 0 ? this.size - buf.length : this.size - buf.length + nl + 1
    log.warn({ file: this.fileName(this.index), from: this.size, to: keep }, 'trimming torn binlog tail')
    fs.ftruncateSync(this.fd, keep)
    this.size = keep
  }

  fileName(index: number): string {
    return path.join(this.o.dir, `${this.prefix}.${String(index).padStart(3, '0')}`)
  }

  private indexFile(): string {
    return path.join(this.o.dir, `${this.prefix}_index.dat`)
  }

  private async readIndex(): Promise<number> {
    try {
      const txt = await fsp.readFile(this.indexFile(), 'utf8')
      const m = /current_write=(\d+)/.exec(txt)
      return m ? Number(m[1]) : 0
    } catch {
      return 0
    }
  }

  /** Position after the last flushed record. */
  end(): BinlogPosition {
    return { index: this.index, offset: this.size }
  }

  /**
   * Records flushed since this process opened the binlog (monotonic, 0 at
   * open). Moves together with `end()`: read both in one tick and the records
   * after that `end()` are exactly those counted after it. Replication senders
   * use it for their records-behind figure without rescanning the log.
   */
  get appendedRecords(): number {
    return this.appended
  }

  /**
   * Bytes of binlog after `pos` up to `end()`, across rotated files (0 when
   * `pos` is at or past the end). A missing older file counts as empty.
   */
  bytesAfter(pos: BinlogPosition): number {
    if (comparePos(pos, this.end()) >= 0) return 0
    if (pos.index === this.index) return this.size - pos.offset
    let n = this.size
    for (let i = pos.index; i < this.index; i++) n += this.doneSize(i)
    return Math.max(0, n - pos.offset)
  }

  private doneSize(index: number): number {
    let n = this.doneSizes.get(index)
    if (n === undefined) {
      try {
        n = fs.statSync(this.fileName(index)).size
      } catch {
        n = 0
      }
      this.doneSizes.set(index, n)
    }
    return n
  }

  /**
   * Number of records (lines) between two positions, across rotated files; a
   * missing file counts as empty. Reads the span in chunks off the main thread:
   * a sender calls it once at start to learn its backlog from the mark file to
   * `to` (then keeps the figure current from `appendedRecords`).
   */
  async countRecords(from: BinlogPosition, to: BinlogPosition): Promise<number> {
    let count = 0
    const buf = Buffer.allocUnsafe(1024 * 1024)
    for (let index = from.index; index <= to.index; index++) {
      let fh: fsp.FileHandle
      try {
        fh = await fsp.open(this.fileName(index), 'r')
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw e
      }
      try {
        let off = index === from.index ? from.offset : 0
        const stop = index === to.index ? to.offset : Infinity
        while (off < stop) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, stop - off), off)
          if (bytesRead <= 0) break
          const got = buf.subarray(0, bytesRead)
          for (let i = got.indexOf(0x0a); i >= 0; i = got.indexOf(0x0a, i + 1)) count++
          off += bytesRead
        }
      } finally {
        await fh.close()
      }
    }
    return count
  }

  /**
   * Append one record (no newline inside). Resolves with the position after it
   * once written. Without fsync the write is a synchronous write(2) of one short
   * line: why sync: it costs microseconds in the page cache, while an async
   * write is a thread-pool round trip on every upload's critical path; and the
   * record is in the kernel before the caller acknowledges anything, so it
   * survives a crash of this process. With fsync, appends in one tick are
   * batched into one write + fdatasync off the main thread.
   */
  append(line: string): Promise<BinlogPosition> {
    if (this.closed) return Promise.reject(new Error('binlog closed'))
    if (line.includes('\n')) return Promise.reject(new Error('binlog record contains a newline'))
    if (this.canAppendNow()) {
      try {
        return Promise.resolve(this.writeNow(line))
      } catch (e) {
        return Promise.reject(e)
      }
    }
    this.pending.push(line + '\n')
    return new Promise((resolve, reject) => {
      this.pendingWaiters.push({ resolve, reject, at: this.pending.length })
      if (!this.flushing) this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flush())
    })
  }

  /**
   * True when `appendNow` can write a record synchronously (no fsync policy, no batch being
   * flushed, not closed). Synchronous callers check it before doing anything they would
   * have to record, and use `append` otherwise.
   */
  canAppendNow(): boolean {
    // After a failed write of held records, callers take the async path (append), which retries
    // those first and reports the error to its own caller: nothing new is held meanwhile.
    return !this.o.fsync && !this.flushing && !this.closed && !this.heldFailed
  }

  /**
   * `append` without the promise, for synchronous request paths: the record is written with
   * one write(2) before this returns (see append for why that is safe without fsync).
   * Only when `canAppendNow()`; throws otherwise, and on a newline in `line` or a failed write.
   */
  appendNow(line: string): BinlogPosition {
    if (!this.canAppendNow()) throw new Error('binlog cannot append synchronously now')
    if (line.includes('\n')) throw new Error('binlog record contains a newline')
    return this.writeNow(line)
  }

  /**
   * `appendNow` for a record whose acknowledgement the caller holds back anyway (the FastDFS
   * storage's reply to a pipelined sync record, waiting in a corked socket): the record is kept
   * in memory and written with the others of the burst in one write(2) by `flushHeld`, which
   * the caller runs before that acknowledgement leaves; any other append, close, or the end of
   * this event-loop turn writes them too, in order. Why: every write(2) to the log extends the
   * file and dirties its inode under the ext4 journal, ~10 µs a record with two storages
   * writing on one filesystem (under 1 µs alone), and a peer's burst carries tens of records.
   * Readers (`read`, `end`, the 'append' event) see held records only once written. Returns
   * the position the record will end at. Only when `canAppendNow()`; throws otherwise and on a
   * newline in `line`.
   */
  appendHeld(line: string): BinlogPosition {
    if (!this.canAppendNow()) throw new Error('binlog cannot append synchronously now')
    if (line.includes('\n')) throw new Error('binlog record contains a newline')
    // Held records go to the current file: near the rotation size, write now (rotation is rare).
    if (this.size + this.heldBytes >= this.rotateBytes) {
      this.flushHeld()
      return this.writeNow(line)
    }
    const rec = line + '\n'
    this.held.push(rec)
    this.heldBytes += Buffer.byteLength(rec)
    this.heldFlush ??= setImmediate(() => {
      this.heldFlush = undefined
      try {
        this.flushHeld()
      } catch (e) {
        // Kept in memory: the next flush (an append, a caller's flushHeld) tries again, and a
        // caller holding acknowledgements sees the error there before sending any.
        log.error({ err: e, records: this.held.length }, 'writing held binlog records failed')
      }
    })
    return { index: this.index, offset: this.size + this.heldBytes }
  }

  /** Records held by `appendHeld` not yet written (0 = nothing to flush). */
  get heldRecords(): number {
    return this.held.length
  }

  /**
   * Write the held records (one write(2)); a no-op when none. Throws the write's error with the
   * records still held and the file as it was (a partial write is cut off again).
   */
  flushHeld(): void {
    if (this.held.length === 0) return
    if (this.heldFlush) {
      clearImmediate(this.heldFlush)
      this.heldFlush = undefined
    }
    const buf = Buffer.from(this.held.join(''), 'utf8')
    let off = 0
    try {
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off)
    } catch (e) {
      this.heldFailed = true
      if (off > 0) {
        try {
          fs.ftruncateSync(this.fd, this.size)
        } catch {
          // the torn tail is trimmed at the next open (trimTornTail)
        }
      }
      throw e
    }
    this.heldFailed = false
    this.size += buf.length
    this.appended += this.held.length
    this.held = []
    this.heldBytes = 0
    this.emit('append', this.end())
  }

  private writeNow(line: string): BinlogPosition {
    // Records held earlier go first, so the log keeps the order of the appends.
    if (this.held.length) this.flushHeld()
    if (this.size >= this.rotateBytes) this.rotateSync()
    const buf = Buffer.from(line + '\n', 'utf8')
    let off = 0
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off)
    this.size += buf.length
    this.appended++
    const pos = { index: this.index, offset: this.size }
    this.emit('append', pos)
    return pos
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      if (this.held.length) {
        try {
          this.flushHeld()
        } catch (e) {
          const waiters = this.pendingWaiters
          this.pending = []
          this.pendingWaiters = []
          for (const w of waiters) w.reject(e)
          break
        }
      }
      const lines = this.pending
      const waiters = this.pendingWaiters
      this.pending = []
      this.pendingWaiters = []
      try {
        if (this.size >= this.rotateBytes) this.rotateSync()
        const buf = Buffer.from(lines.join(''), 'utf8')
        await this.fh!.write(buf, 0, buf.length, null)
        // Why optional fdatasync: the binlog drives replication; losing its tail on
        // power loss means a replica misses files until fsck. Off by default, as
        // FastDFS buffers its binlog for a whole second.
        if (this.o.fsync) await this.fh!.datasync()
        // Positions per record so each caller learns where its own record ends.
        let off = this.size
        const ends: number[] = []
        for (const l of lines) {
          off += Buffer.byteLength(l)
          ends.push(off)
        }
        this.size += buf.length
        this.appended += lines.length
        for (const w of waiters) w.resolve({ index: this.index, offset: ends[w.at - 1] })
        this.emit('append', this.end())
      } catch (e) {
        for (const w of waiters) w.reject(e)
      }
    }
    this.flushing = undefined
  }

  /** Switch to the next file (synchronous: it happens once per GiB). */
  private rotateSync(): void {
    this.doneSizes.set(this.index, this.size)
    fs.closeSync(this.fd)
    this.index++
    this.fd = fs.openSync(this.fileName(this.index), 'a')
    this.fh = new FdHandle(this.fd)
    this.size = 0
    writeFileAtomicSync(this.indexFile(), `current_write=${this.index}\ncurrent_compress=0\n`)
  }

  /**
   * Read up to `max` complete records starting at `from`. Returns the records and
   * the position after the last one; crosses into the next file when `from` is at
   * the end of a finished file.
   */
  async read(from: BinlogPosition, max: number, maxBytes = 1024 * 1024): Promise<{ records: string[]; next: BinlogPosition }> {
    let pos = { ...from }
    for (;;) {
      const fd = this.readFd(pos.index)
      if (fd === undefined) {
        if (pos.index < this.index) {
          pos = { index: pos.index + 1, offset: 0 }
          continue
        }
        return { records: [], next: pos }
      }
      // The current file's flushed size is known; older files are complete.
      const fileSize = pos.index === this.index ? this.size : fs.fstatSync(fd).size
      if (pos.offset >= fileSize) {
        if (pos.index < this.index) {
          pos = { index: pos.index + 1, offset: 0 }
          continue
        }
        return { records: [], next: pos }
      }
      const want = Math.min(fileSize - pos.offset, maxBytes)
      const buf = Buffer.allocUnsafe(want)
      // Why a synchronous positional read: senders read what was appended microseconds
      // ago (page cache), once per wake-up; a thread-pool open/stat/read/close per call
      // was a large share of the sync cost per small file.
      const bytesRead = fs.readSync(fd, buf, 0, want, pos.offset)
      const records: string[] = []
      let start = 0
      for (let i = 0; i < bytesRead && records.length < max; i++) {
        if (buf[i] === 0x0a) {
          records.push(buf.toString('utf8', start, i))
          start = i + 1
        }
      }
      return { records, next: { index: pos.index, offset: pos.offset + start } }
    }
  }

  /** Read descriptors, kept open per binlog file (shared by every reader; reads are positional). */
  private readonly readFds = new Map<number, number>()

  private readFd(index: number): number | undefined {
    let fd = this.readFds.get(index)
    if (fd === undefined) {
      try {
        fd = fs.openSync(this.fileName(index), 'r')
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw e
      }
      this.readFds.set(index, fd)
      // Readers move forward: descriptors of files two behind the newest one opened are done.
      for (const [i, old] of this.readFds) {
        if (i < index - 1) {
          fs.closeSync(old)
          this.readFds.delete(i)
        }
      }
    }
    return fd
  }

  /** Resolves when something is appended after `pos`, or after `ms` (whichever first). */
  waitForAppend(pos: BinlogPosition, ms: number): Promise<void> {
    if (comparePos(this.end(), pos) > 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t)
        this.off('append', done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.once('append', done)
    })
  }

  private markFile(peer: string): string {
    if (!/^[A-Za-z0-9_.:-]+$/.test(peer)) throw new Error(`bad peer name ${peer}`)
    return path.join(this.o.dir, `${peer.replace(/:/g, '_')}.mark`)
  }

  /** The saved cursor for `peer`, or the start of the log when none was saved. */
  async cursor(peer: string): Promise<BinlogCursor> {
    try {
      const txt = await fsp.readFile(this.markFile(peer), 'utf8')
      const kv: Record<string, string> = {}
      for (const line of txt.split('\n')) {
        const i = line.indexOf('=')
        if (i > 0) kv[line.slice(0, i).trim()] = line.slice(i + 1).trim()
      }
      const { binlog_index, binlog_offset, ...extra } = kv
      return { index: Number(binlog_index ?? 0), offset: Number(binlog_offset ?? 0), extra }
    } catch {
      return { index: 0, offset: 0, extra: {} }
    }
  }

  /**
   * Move `from`'s saved cursor to `to` (a peer that changed its name, e.g. its address). Returns
   * false, touching nothing, when `from` has no cursor or `to` already has one.
   */
  async renameCursor(from: string, to: string): Promise<boolean> {
    const src = this.markFile(from)
    const dst = this.markFile(to)
    try {
      await fsp.access(src)
    } catch {
      return false
    }
    try {
      await fsp.access(dst)
      return false
    } catch {
      // no cursor under the new name yet: move it
    }
    await fsp.rename(src, dst)
    return true
  }

  /** Durably replace `peer`'s cursor (temp file + rename, so a crash keeps the old or the new one). */
  async saveCursor(peer: string, c: BinlogCursor): Promise<void> {
    const lines = [`binlog_index=${c.index}`, `binlog_offset=${c.offset}`, ...Object.entries(c.extra).map(([k, v]) => `${k}=${v}`)]
    await writeFileAtomic(this.markFile(peer), lines.join('\n') + '\n')
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.flushing) await this.flushing
    try {
      this.flushHeld()
    } catch (e) {
      log.error({ err: e, records: this.held.length }, 'writing held binlog records at close failed')
    }
    if (this.fd >= 0) fs.closeSync(this.fd)
    this.fd = -1
    for (const fd of this.readFds.values()) fs.closeSync(fd)
    this.readFds.clear()
    this.fh = undefined
  }
}

/** Write a small file so that readers see the old or the new content, never a mix. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  await fsp.writeFile(tmp, data)
  await fsp.rename(tmp, file)
}

function writeFileAtomicSync(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`
  fs.writeFileSync(tmp, data)
  fs.renameSync(tmp, file)
}

/** Minimal async write/datasync over a raw descriptor (the fsync path). */
class FdHandle {
  constructor(private readonly fd: number) {}
  write(buf: Buffer, off: number, len: number, _pos: null): Promise<void> {
    return new Promise((resolve, reject) => fs.write(this.fd, buf, off, len, (e) => (e ? reject(e) : resolve())))
  }
  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (e) => (e ? reject(e) : resolve())))
  }
}
