/**
 * BlobStore over one local directory (a FastDFS store path or a MogileFS device).
 *
 * Layout: `<root>/<key>` for blobs; `<root>/.tandem-tmp/` for bodies in flight.
 * The temp dir lives on the same filesystem as the blobs so that rename(2) is
 * atomic: a reader sees either no file or the complete file, never a prefix.
 * Temp files left by a crash are removed when the store is opened. Small bodies
 * (with the native addon, on Linux) skip the temp name: they are written to an
 * unnamed O_TMPFILE file that link(2) names once complete (see putUnnamed).
 *
 * One process owns a root (the daemon serving that store path or device):
 * opening sweeps the temp dir, and the synchronous small-body commit relies on
 * no other writer between its existence check and its rename.
 */
import { createHash, type Hash } from 'node:crypto'
import fs, { constants as FS } from 'node:fs'
import * as fsp from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { Readable } from 'node:stream'
import { crc32Update } from '../crc32.js'
import { VolumeSpace } from '../disk/statfs.js'
import { reservedBytes, type ReservedRule } from '../disk/reserved.js'
import { EngineError, ENGINE_ERRORS as E } from '../errors.js'
import { KeyedMutex } from '../util/keyed-mutex.js'
import { RecentCache, type RecentHit } from './recent-cache.js'
import { disableTmpfile, linkFdSync, readIntoSync, readOut, READ_EFBIG, READ_EISDIR, READ_ENOENT, READ_ENOTDIR, READ_ERANGE, renameNoReplaceAvailable, renameNoReplaceSync, statLiteSync, tmpfileWriteSync } from '../io/native-fs.js'
import { Slab } from '../io/slab.js'
import { BufferPool } from '../io/buffer-pool.js'
import { logger } from '../../log.js'
import { addGaugeSource, processMetrics } from '../metrics.js'
import type { BlobMeta, BlobStore, DigestAlgorithm, DirectBody, DiskUsage, KeyChooser, PutOptions, PutResult, ReadHandle } from './blob-store.js'

/**
 * Default size of the recent-writes cache. Why this small: the reads it serves come within
 * milliseconds of the write (sync lag is ~1 ms), and 2 MiB still covers ~80 ms of 4 KiB uploads
 * at 6,000/s. A larger cache made entries outlive the young generation: at 32 MiB every entry
 * was promoted and died in old space, and a storage under 4 KiB uploads spent ~7% more CPU per
 * upload (A/B on one machine, same run).
 */
const DEFAULT_RECENT_BYTES = 2 * 1024 * 1024

const log = logger('engine.blob')

export const TMP_DIR = '.tandem-tmp'
/** Bodies and ranges up to this size take the synchronous small-I/O path (see putSmall). */
const SMALL_IO = 64 * 1024
/** How many keys a KeyChooser may propose before put gives up (collisions are astronomically rare). */
const MAX_KEY_ATTEMPTS = 10
const MAX_KEY_LENGTH = 1024

export type FsyncPolicy = 'never' | 'always'

export interface LocalBlobStoreOptions {
  root: string
  reserved?: ReservedRule
  /**
   * 'never' (default, like FastDFS's fsync_after_written_bytes=0): an acknowledged
   * write is in the page cache and survives any process crash; a power loss may
   * lose the last seconds. 'always': fdatasync the file and its directory before
   * acknowledging, which survives power loss at the cost of latency.
   */
  fsync?: FsyncPolicy
  /** Bytes of recently written small blobs kept in memory for the reads that follow (recent-cache.ts); default 2 MiB (DEFAULT_RECENT_BYTES), 0 = off. */
  recentCacheBytes?: number
}

/** Validate a key and return its path segments. Throws BAD_KEY. */
export function checkKey(key: string): string[] {
  validateKey(key)
  return key.split('/')
}

/**
 * Throw BAD_KEY unless `key` is 1..1024 chars of `/`-separated segments, none empty,
 * `.`, `..` or the temp dir, with no NUL or backslash. One scan, no allocation:
 * it runs on every read and write.
 */
function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || key.includes('\0') || key.includes('\\')) {
    throw new EngineError(E.BAD_KEY, `invalid blob key`)
  }
  let start = 0
  for (;;) {
    let end = key.indexOf('/', start)
    if (end < 0) end = key.length
    const n = end - start
    if (
      n === 0 ||
      (n === 1 && key.charCodeAt(start) === 0x2e) ||
      (n === 2 && key.charCodeAt(start) === 0x2e && key.charCodeAt(start + 1) === 0x2e) ||
      (n === TMP_DIR.length && key.startsWith(TMP_DIR, start))
    ) {
      throw new EngineError(E.BAD_KEY, `invalid blob key: ${JSON.stringify(key)}`)
    }
    if (end === key.length) return
    start = end + 1
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code
}

export class LocalBlobStore implements BlobStore {
  readonly root: string
  /** `root` with one trailing slash, for building paths of validated keys. */
  private readonly rootSlash: string
  private readonly tmpDir: string
  private readonly space: VolumeSpace
  private readonly reserved?: ReservedRule
  private readonly fsync: FsyncPolicy
  private readonly knownDirs = new Set<string>()
  private readonly locks = new KeyedMutex()
  private readonly recent: RecentCache
  /** Pieces for readSmall's replies (send-and-drop buffers; see io/slab.ts). */
  private readonly slab = new Slab()
  /** Batch buffers of the streamed put (two per body being written); up to 16 kept idle (8 MiB). */
  private readonly batches = new BufferPool(WRITE_BATCH, 16)

  private constructor(o: LocalBlobStoreOptions) {
    this.root = path.resolve(o.root)
    this.rootSlash = this.root.endsWith('/') ? this.root : this.root + '/'
    this.tmpDir = path.join(this.root, TMP_DIR)
    this.space = new VolumeSpace(this.root)
    this.reserved = o.reserved
    this.fsync = o.fsync ?? 'never'
    this.recent = new RecentCache(o.recentCacheBytes ?? DEFAULT_RECENT_BYTES)
  }

  /** Create the root and temp dir, and clear temp files a crash left behind. */
  static async open(o: LocalBlobStoreOptions): Promise<LocalBlobStore> {
    const s = new LocalBlobStore(o)
    await fsp.mkdir(s.tmpDir, { recursive: true })
    addGaugeSource('tandem_store_free_bytes', 'Free bytes per blob store (statfs, before the reserve)', async () => [{ labels: { root: s.root }, value: (await s.usage()).freeBytes }])
    addGaugeSource('tandem_store_total_bytes', 'Total bytes per blob store (statfs)', async () => [{ labels: { root: s.root }, value: (await s.usage()).totalBytes }])
    const stale = await fsp.readdir(s.tmpDir)
    await Promise.all(stale.map((f) => fsp.rm(path.join(s.tmpDir, f), { force: true })))
    if (stale.length) log.info({ root: s.root, count: stale.length }, 'removed partial uploads left by a previous run')
    return s
  }

  private file(key: string): string {
    // A valid key has no empty, `.` or `..` segment, so plain concatenation is what path.join would give.
    validateKey(key)
    return this.rootSlash + key
  }

  /**
   * Run a change to `key` under its lock, with its recent-writes cache entry dropped before
   * (readers go to the file) and after (nothing cached it while it changed).
   */
  private async changing<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.recent.delete(key)
    try {
      return await this.locks.run(key, fn)
    } finally {
      this.recent.delete(key)
    }
  }

  /**
   * Create directory `relDir` (a key prefix such as `data/0A/1B`) off the event loop, so the
   * synchronous small-body commit finds it ready. Called by stores that know which directory
   * their next files go to; absent or failed preparation only means the commit creates it.
   */
  async prepareDir(relDir: string): Promise<void> {
    await this.ensureDir(path.join(this.root, ...checkKey(relDir)))
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return
    await fsp.mkdir(dir, { recursive: true })
    this.knownDirs.add(dir)
  }

  private tmpSeq = 0

  /** Unique within this directory: the pid tells processes apart, the counter calls (no RNG on the hot path). */
  private tmpName(): string {
    return path.join(this.tmpDir, `${process.pid}-${(++this.tmpSeq).toString(36)}`)
  }

  async usage(): Promise<DiskUsage> {
    const u = await this.space.read()
    return { ...u, reservedBytes: reservedBytes(this.reserved, u.totalBytes) }
  }

  async ensureFree(bytes: number): Promise<void> {
    const u = await this.usage()
    if (u.freeBytes - bytes < u.reservedBytes) {
      throw new EngineError(E.NO_SPACE, `no space: need ${bytes} bytes, ${u.freeBytes} free, ${u.reservedBytes} reserved`)
    }
  }

  async put(key: string | KeyChooser, body: AsyncIterable<Uint8Array>, o: PutOptions = {}): Promise<PutResult> {
    const chooser = typeof key === 'function' ? key : undefined
    const noClobber = chooser !== undefined || o.overwrite === false
    const small = o.size !== undefined && o.size <= SMALL_IO && this.fsync === 'never'
    // Early refusal saves streaming a body that would be rejected; the commit (renameat2 without
    // replace, or link(2)) is what actually guarantees no clobbering. existsSync: one stat, no
    // thread-pool hop, no exception. Skipped for small bodies when the atomic no-replace rename is
    // there: they are in memory already, and the commit refuses them for the cost of one syscall.
    if (!chooser && o.overwrite === false && !(small && renameNoReplaceAvailable()) && fs.existsSync(this.file(key as string))) {
      throw new EngineError(E.EXISTS, `blob exists: ${key}`)
    }
    if (chooser === undefined) {
      checkKey(key as string)
      this.recent.delete(key as string)
    }
    if (o.size !== undefined) {
      await this.ensureFree(o.size)
      this.space.charge(o.size)
    }
    if (small) return this.putSmall(key, body, o, noClobber)
    const tmp = this.tmpName()
    // A plain descriptor opened synchronously (creating the temp file is one short syscall, as on
    // the small-body path); only the data writes and an fsync go to the thread pool.
    const fd = fs.openSync(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, 0o644)
    const hash: Hash | undefined = o.digest ? createHash(o.digest) : undefined
    let closed = false
    try {
      // A body that can receive itself into the file natively (socket → file on a pool thread)
      // does so; not with a digest or abort signal to honour, which need every byte in JS.
      const direct = !hash && !o.signal ? (body as DirectBody).intoFile?.(fd, 0) : undefined
      const r = direct ? await direct : await this.writeChunks(fd, body, o, hash)
      if (direct) processMetrics.inc('tandem_store_native_receives_total', 'Bodies received straight from a socket into a blob file (native)', undefined, 1)
      const written = r.bytes
      const crc = r.crc32
      if (o.size !== undefined && written > o.size) throw new EngineError(E.SIZE_MISMATCH, `body longer than declared ${o.size} bytes`)
      const digest = this.checkBody(o, written, hash)
      // Why fsync here (policy 'always'): the rename below must not become durable
      // before the data it points to, or a power loss could expose an empty file.
      if (this.fsync === 'always') await fdatasyncP(fd)
      // Synchronous on purpose: metadata calls on an open descriptor take microseconds, and a
      // thread-pool round trip each costs more in wakeups than the call itself (the receiving
      // storage of a large sync record idles through them, one file after another).
      if (o.mtime) fs.futimesSync(fd, o.mtime, o.mtime)
      const st = fs.fstatSync(fd)
      fs.closeSync(fd)
      closed = true
      const finalKey = await this.commit(tmp, key, { crc32: crc, size: written }, noClobber)
      this.recent.delete(finalKey)
      if (this.fsync === 'always') await this.syncDir(path.dirname(this.file(finalKey)))
      processMetrics.inc('tandem_store_written_bytes_total', 'Bytes written into blob stores', undefined, written)
      return { key: finalKey, size: written, mtimeMs: st.mtimeMs, crc32: crc, digest }
    } catch (e) {
      if (!closed) {
        try {
          fs.closeSync(fd)
        } catch {
          // already failing: the temp file goes next
        }
      }
      await fsp.rm(tmp, { force: true }).catch(() => {})
      throw wrapIo(e)
    }
  }

  /**
   * Stream `body` into `fd` from offset 0 through the batch buffers; the bytes and CRC-32 written.
   */
  private async writeChunks(fd: number, body: AsyncIterable<Uint8Array>, o: PutOptions, hash: Hash | undefined): Promise<{ bytes: number; crc32: number }> {
    let crc = 0
    let written = 0
    // Chunks are copied into a WRITE_BATCH buffer and written one buffer at a time: a 1 MiB body
    // that arrives in 64 KiB socket reads costs two thread-pool round trips instead of sixteen.
    // Two batch buffers: one fills while the other is written, so the body keeps being read during
    // a write (before, the chunks waited in the socket reader until the write finished). They come
    // from a small free list, so a steady stream of large bodies allocates no batch memory.
    // Measured: a backlog of 1 MiB sync records drains ~8% faster (A/B, 3 rounds).
    let cur = this.batches.take()
    let other: Buffer | undefined
    let fill = 0
    let pos = 0
    let inflight: Promise<void> | undefined
    const startWrite = (buf: Buffer, n: number) => {
      inflight = writeAllAt(fd, buf, n, pos)
      inflight.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
      pos += n
    }
    try {
      for await (const chunk of body) {
        if (o.signal?.aborted) throw new EngineError(E.ABORTED, 'upload aborted')
        if (o.size !== undefined && written + fill + chunk.length > o.size) {
          throw new EngineError(E.SIZE_MISMATCH, `body longer than declared ${o.size} bytes`)
        }
        crc = crc32Update(crc, chunk)
        hash?.update(chunk)
        let off = 0
        while (off < chunk.length) {
          const n = Math.min(chunk.length - off, cur.length - fill)
          cur.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), fill)
          fill += n
          off += n
          if (fill === cur.length) {
            // The other buffer is free once its write is done; then this one goes out.
            if (inflight) await inflight
            startWrite(cur, fill)
            written += fill
            const next = other ?? this.batches.take()
            other = cur
            cur = next
            fill = 0
          }
        }
      }
      if (inflight) await inflight
      if (fill) {
        startWrite(cur, fill)
        await inflight
        written += fill
      }
    } finally {
      // No write may still be reading a buffer that goes back to the free list.
      if (inflight) await inflight.catch(() => {})
      this.batches.give(cur)
      if (other) this.batches.give(other)
    }
    return { bytes: written, crc32: crc }
  }

  /** Size, abort and digest checks once the whole body has been seen. */
  private checkBody(o: PutOptions, written: number, hash: Hash | undefined): Buffer | undefined {
    if (o.signal?.aborted) throw new EngineError(E.ABORTED, 'upload aborted')
    if (o.size !== undefined && written !== o.size) throw new EngineError(E.SIZE_MISMATCH, `body of ${written} bytes, declared ${o.size}`)
    const digest = hash?.digest()
    if (o.expectDigest && digest && !digest.equals(o.expectDigest)) {
      throw new EngineError(E.CHECKSUM_MISMATCH, `digest mismatch: expected ${o.expectDigest.toString('hex')}, got ${digest.toString('hex')}`)
    }
    return digest
  }

  /**
   * Small bodies (declared size <= SMALL_IO): gather the chunks, then write,
   * close and rename with synchronous calls. Why sync: for a few KiB that land
   * in the page cache each call takes microseconds, less than one thread-pool
   * round trip of the async API, and the upload rate of small files is bound by
   * exactly that overhead. Large bodies and fsync'ing stores stay async.
   */
  private async putSmall(key: string | KeyChooser, body: AsyncIterable<Uint8Array>, o: PutOptions, noClobber: boolean): Promise<PutResult> {
    const size = o.size!
    const buf = Buffer.allocUnsafe(size)
    let written = 0
    for await (const chunk of body) {
      if (o.signal?.aborted) throw new EngineError(E.ABORTED, 'upload aborted')
      if (written + chunk.length > size) throw new EngineError(E.SIZE_MISMATCH, `body longer than declared ${size} bytes`)
      buf.set(chunk, written)
      written += chunk.length
    }
    const hash: Hash | undefined = o.digest ? createHash(o.digest) : undefined
    hash?.update(buf.subarray(0, written))
    const digest = this.checkBody(o, written, hash)
    return this.commitSmall(key, written === size ? buf : buf.subarray(0, written), o.mtime, noClobber, digest, o.mtimeSecondOnly === true)
  }

  /**
   * A small body that is all in memory, written synchronously: the same commit as put's
   * small-body path (unnamed file + link, or temp + rename), without a promise. Called by
   * protocol fast paths (the FastDFS storage's upload and sync-create when the whole request
   * has arrived). Returns undefined, having done nothing, when that cannot be done here: an
   * fsync policy other than 'never', a body over SMALL_IO, or free space not known without a
   * statfs (the cached figure expired; a refresh starts); the caller then uses put. Throws as
   * put does otherwise (NO_SPACE, EXISTS, IO). `data` is not kept (the recent-writes cache
   * copies it), so it may be a view into a reused read buffer.
   */
  putNow(key: string | KeyChooser, data: Buffer, o: { overwrite?: boolean; mtime?: Date; mtimeSecondOnly?: boolean } = {}): PutResult | undefined {
    if (this.fsync !== 'never' || data.length > SMALL_IO) return undefined
    const u = this.space.readNow()
    if (!u) return undefined
    const reserved = reservedBytes(this.reserved, u.totalBytes)
    if (u.freeBytes - data.length < reserved) {
      throw new EngineError(E.NO_SPACE, `no space: need ${data.length} bytes, ${u.freeBytes} free, ${reserved} reserved`)
    }
    const chooser = typeof key === 'function' ? key : undefined
    if (chooser === undefined) {
      checkKey(key as string)
      this.recent.delete(key as string)
    }
    this.space.charge(data.length)
    return this.commitSmall(key, data, o.mtime, chooser !== undefined || o.overwrite === false, undefined, o.mtimeSecondOnly === true)
  }

  /** The synchronous commit of a small body (see putSmall): returns the put's result, caches the bytes. */
  private commitSmall(key: string | KeyChooser, buf: Buffer, mtime: Date | undefined, noClobber: boolean, digest: Buffer | undefined, mtimeSecondOnly = false): PutResult {
    const written = buf.length
    const crc = crc32Update(0, buf)
    if (this.fsync !== 'always') {
      const r = this.putUnnamed(key, buf, written, mtime, crc, noClobber, mtimeSecondOnly)
      if (r) {
        this.recent.set(r.key, buf, r.mtimeMs, r.ino)
        processMetrics.inc('tandem_store_written_bytes_total', 'Bytes written into blob stores', undefined, written)
        return { key: r.key, size: written, mtimeMs: r.mtimeMs, crc32: crc, digest }
      }
    }
    const tmp = this.tmpName()
    let mtimeMs = 0
    let ino = 0
    try {
      const fd = fs.openSync(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, 0o644)
      try {
        let off = 0
        while (off < written) off += fs.writeSync(fd, buf, off, written - off)
        if (mtime) fs.futimesSync(fd, mtime, mtime)
        const st = fs.fstatSync(fd)
        mtimeMs = st.mtimeMs
        ino = st.ino
      } finally {
        fs.closeSync(fd)
      }
      const finalKey = this.commitSync(tmp, key, { crc32: crc, size: written }, noClobber)
      this.recent.set(finalKey, buf, mtimeMs, ino)
      processMetrics.inc('tandem_store_written_bytes_total', 'Bytes written into blob stores', undefined, written)
      return { key: finalKey, size: written, mtimeMs, crc32: crc, digest }
    } catch (e) {
      try {
        fs.rmSync(tmp, { force: true })
      } catch {
        // best effort: the temp dir is swept at the next start
      }
      throw wrapIo(e)
    }
  }

  /**
   * The small-body commit without a temp name: the body goes into an unnamed file (O_TMPFILE)
   * that link(2) names only once it is complete, so a reader still sees no file or the whole
   * file, link never replaces an existing blob, and a crash leaves nothing to sweep. Returns
   * undefined when unnamed files are unavailable here, or when the key exists and may be
   * replaced (link cannot replace; rare: MogileFS writes each fid once): the caller then writes
   * the body again with temp file + rename.
   */
  private putUnnamed(key: string | KeyChooser, buf: Buffer, len: number, mtime: Date | undefined, crc: number, noClobber: boolean, mtimeSecondOnly: boolean): { key: string; mtimeMs: number; ino: number } | undefined {
    let u: ReturnType<typeof tmpfileWriteSync>
    try {
      u = tmpfileWriteSync(this.tmpDir, buf, len, mtime, mtimeSecondOnly)
    } catch (e) {
      throw wrapIo(e)
    }
    if (!u) return undefined
    try {
      for (let attempt = 0; attempt < MAX_KEY_ATTEMPTS; attempt++) {
        const k = typeof key === 'function' ? key({ crc32: crc, size: len, attempt }) : key
        const final = this.file(k)
        const dir = path.dirname(final)
        if (!this.knownDirs.has(dir)) {
          fs.mkdirSync(dir, { recursive: true })
          this.knownDirs.add(dir)
        }
        try {
          linkFdSync(u.fd, final)
          return { key: k, mtimeMs: u.mtimeMs, ino: u.ino }
        } catch (e) {
          const code = errno(e)
          if (code === 'EEXIST') {
            if (!noClobber) return undefined
            if (typeof key === 'function') continue
            throw new EngineError(E.EXISTS, `blob exists: ${k}`)
          }
          if (code === 'EPERM' || code === 'EXDEV' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
            // This system cannot name an unnamed file (no /proc and no privilege for
            // AT_EMPTY_PATH): stop trying; the caller writes the body again the classic way.
            log.warn({ err: e }, 'naming O_TMPFILE files failed; using temp file + rename from now on')
            disableTmpfile()
            return undefined
          }
          throw e
        }
      }
      throw new EngineError(E.EXISTS, `no free key after ${MAX_KEY_ATTEMPTS} attempts`)
    } catch (e) {
      throw e instanceof EngineError ? e : wrapIo(e)
    } finally {
      fs.closeSync(u.fd)
    }
  }

  /** Move a finished temp file to its key (chosen now if a chooser was given). Returns the key. */
  private async commit(tmp: string, key: string | KeyChooser, r: { crc32: number; size: number }, noClobber: boolean): Promise<string> {
    for (let attempt = 0; attempt < MAX_KEY_ATTEMPTS; attempt++) {
      const k = typeof key === 'function' ? key({ ...r, attempt }) : key
      const final = this.file(k)
      await this.ensureDir(path.dirname(final))
      if (!noClobber) {
        await fsp.rename(tmp, final)
        return k
      }
      const moved = this.renameNoReplace(tmp, final, key, k)
      if (moved === 'retry') continue
      if (moved) return k
      // link(2) fails with EEXIST instead of clobbering a concurrent writer's file.
      try {
        await fsp.link(tmp, final)
      } catch (e) {
        if (errno(e) === 'EEXIST' && typeof key === 'function') continue
        if (errno(e) === 'EEXIST') throw new EngineError(E.EXISTS, `blob exists: ${k}`)
        throw e
      }
      await fsp.unlink(tmp)
      return k
    }
    throw new EngineError(E.EXISTS, `no free key after ${MAX_KEY_ATTEMPTS} attempts`)
  }

  /** Synchronous twin of `commit` for the small-body path. */
  private commitSync(tmp: string, key: string | KeyChooser, r: { crc32: number; size: number }, noClobber: boolean): string {
    for (let attempt = 0; attempt < MAX_KEY_ATTEMPTS; attempt++) {
      const k = typeof key === 'function' ? key({ ...r, attempt }) : key
      const final = this.file(k)
      const dir = path.dirname(final)
      if (!this.knownDirs.has(dir)) {
        fs.mkdirSync(dir, { recursive: true })
        this.knownDirs.add(dir)
      }
      if (noClobber) {
        const moved = this.renameNoReplace(tmp, final, key, k)
        if (moved === 'retry') continue
        if (moved) return k
      }
      // Fallback no-clobber without link(2)+unlink(2): this whole commit is synchronous, so no other
      // put of this process can run between the existence check and the rename, and a store
      // directory belongs to one process. One stat instead of two directory updates.
      if (noClobber && fs.existsSync(final)) {
        if (typeof key === 'function') continue
        throw new EngineError(E.EXISTS, `blob exists: ${k}`)
      }
      fs.renameSync(tmp, final)
      return k
    }
    throw new EngineError(E.EXISTS, `no free key after ${MAX_KEY_ATTEMPTS} attempts`)
  }

  /**
   * The atomic no-clobber commit: true when moved, 'retry' when the chosen key is taken (a chooser
   * draws another), false when renameat2 is unavailable here (the caller falls back). An existing
   * fixed key is EXISTS.
   */
  private renameNoReplace(tmp: string, final: string, key: string | KeyChooser, k: string): boolean | 'retry' {
    try {
      return renameNoReplaceSync(tmp, final)
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e
      if (typeof key === 'function') return 'retry'
      throw new EngineError(E.EXISTS, `blob exists: ${k}`)
    }
  }

  private async syncDir(dir: string): Promise<void> {
    const d = await fsp.open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  }

  /**
   * A small range read synchronously, with `headroom` free bytes in front of the data for a
   * protocol header, so header and bytes leave in one write without another copy. Called by
   * protocol fast paths (the FastDFS storage's download). Returns undefined when the blob is
   * absent, LARGE when the range is longer than SMALL_IO (then use openRead, which streams);
   * throws BAD_RANGE like openRead. The buffer is cut from a shared slab: send it and drop it,
   * do not keep it.
   */
  readSmall(key: string, range: { start: number; end?: number } | undefined, headroom: number): SmallRead | undefined | typeof LARGE {
    const p = this.file(key)
    const start = range?.start ?? 0
    const hit = this.freshHit(key, p)
    if (hit) {
      const size = hit.buf.length
      const end = clampRange(range, size).end
      const { buf, offset } = this.slab.reserve(headroom + end - start)
      hit.buf.copy(buf, offset + headroom, start, end)
      return { framed: this.slab.take(buf, offset, headroom + end - start), size, mtimeMs: hit.mtimeMs, start, end }
    }
    if (start < 0) throw new EngineError(E.BAD_RANGE, `range starts at ${start}`)
    const { buf, offset } = this.slab.reserve(headroom + SMALL_IO)
    const n = readIntoSync(p, buf, offset + headroom, start, range?.end ?? -1, SMALL_IO)
    if (n === null) {
      // No addon: the same through node:fs (four calls instead of one).
      return this.readSmallFs(key, range, headroom)
    }
    if (n >= 0) {
      return { framed: this.slab.take(buf, offset, headroom + n), size: readOut[0], mtimeMs: readOut[1], start, end: start + n }
    }
    if (n === READ_ENOENT || n === READ_ENOTDIR || n === READ_EISDIR) return undefined
    if (n === READ_EFBIG) return LARGE
    if (n === READ_ERANGE) throw new EngineError(E.BAD_RANGE, `range ${start}-${range?.end ?? ''} outside 0-${readOut[0]}`)
    // Any other failure: let node:fs raise it with its usual shape (code, path, syscall).
    return this.readSmallFs(key, range, headroom)
  }

  /**
   * The recent-writes cache entry of `key` while the file at `p` is still the one written (same
   * inode, size and mtime: one stat instead of open/fstat/read/close); a file removed or replaced
   * behind our back drops the entry and is read from disk, or is absent, as it should be.
   */
  private freshHit(key: string, p: string): RecentHit | undefined {
    const hit = this.recent.get(key)
    if (!hit) return undefined
    const st = statLiteSync(p)
    if (st && st.ino === hit.ino && st.size === hit.buf.length && st.mtimeMs === hit.mtimeMs) return hit
    this.recent.delete(key)
    return undefined
  }

  private readSmallFs(key: string, range: { start: number; end?: number } | undefined, headroom: number): SmallRead | undefined | typeof LARGE {
    let fd: number
    try {
      fd = fs.openSync(this.file(key), 'r')
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR' || errno(e) === 'EISDIR') return undefined
      throw wrapIo(e)
    }
    try {
      const st = fs.fstatSync(fd)
      if (!st.isFile()) return undefined
      const size = st.size
      const { start, end } = clampRange(range, size)
      if (end - start > SMALL_IO) return LARGE
      const { buf, offset } = this.slab.reserve(headroom + end - start)
      let off = 0
      while (off < end - start) {
        const k = fs.readSync(fd, buf, offset + headroom + off, end - start - off, start + off)
        if (k === 0) break
        off += k
      }
      return { framed: this.slab.take(buf, offset, headroom + off), size, mtimeMs: st.mtimeMs, start, end: start + off }
    } catch (e) {
      throw e instanceof EngineError ? e : wrapIo(e)
    } finally {
      fs.closeSync(fd)
    }
  }

  async openRead(key: string, range?: { start: number; end?: number }): Promise<ReadHandle | undefined> {
    const p = this.file(key)
    const hit = this.freshHit(key, p)
    if (hit) {
      const size = hit.buf.length
      const { start, end } = clampRange(range, size)
      // A copy: the hit is a view into the cache's ring, which later writes overwrite.
      return smallHandle(size, hit.mtimeMs, start, end, Buffer.from(hit.buf.subarray(start, end)))
    }
    // Why sync open/fstat/read: see putSmall; large ranges are streamed asynchronously below.
    let fd: number
    try {
      fd = fs.openSync(p, 'r')
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR' || errno(e) === 'EISDIR') return undefined
      throw wrapIo(e)
    }
    let handedOff = false
    try {
      const st = fs.fstatSync(fd)
      if (!st.isFile()) return undefined
      const size = st.size
      const { start, end } = clampRange(range, size)
      const len = end - start
      if (len <= SMALL_IO) {
        const buf = Buffer.allocUnsafe(len)
        let off = 0
        while (off < len) {
          const n = fs.readSync(fd, buf, off, len - off, start + off)
          if (n === 0) break
          off += n
        }
        return smallHandle(size, st.mtimeMs, start, start + off, buf.subarray(0, off))
      }
      // The stream owns the descriptor from here and closes it on end, error or destroy.
      const stream = fs.createReadStream('', { fd, start, end: end - 1, highWaterMark: 256 * 1024, autoClose: true })
      handedOff = true
      return { size, mtimeMs: st.mtimeMs, start, end, stream, fd }
    } catch (e) {
      throw wrapIo(e)
    } finally {
      if (!handedOff) fs.closeSync(fd)
    }
  }

  async stat(key: string): Promise<BlobMeta | undefined> {
    try {
      // Sync: a metadata-only call on a cached inode is cheaper than a thread-pool hop.
      const st = statLiteSync(this.file(key))
      if (!st || !st.isFile) return undefined
      return { key, size: st.size, mtimeMs: st.mtimeMs }
    } catch (e) {
      if (e instanceof EngineError) throw e
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined
      throw wrapIo(e)
    }
  }

  async delete(key: string): Promise<boolean> {
    this.recent.delete(key)
    try {
      fs.unlinkSync(this.file(key))
      return true
    } catch (e) {
      if (e instanceof EngineError) throw e
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return false
      throw wrapIo(e)
    }
  }

  async append(key: string, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<BlobMeta> {
    return this.changing(key, async () => {
      const fh = await this.openExisting(key)
      try {
        const st = await fh.stat()
        return await this.writeAt(fh, key, st.size, st.size, body, size, signal)
      } finally {
        await fh.close().catch(() => {})
      }
    })
  }

  async modify(key: string, offset: number, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<BlobMeta> {
    return this.changing(key, async () => {
      const fh = await this.openExisting(key)
      try {
        const st = await fh.stat()
        if (offset < 0 || offset > st.size) throw new EngineError(E.BAD_RANGE, `offset ${offset} beyond size ${st.size}`)
        return await this.writeAt(fh, key, offset, st.size, body, size, signal)
      } finally {
        await fh.close().catch(() => {})
      }
    })
  }

  /**
   * Write `size` bytes at `offset`. If the body fails or is short, a file that grew
   * is cut back to `oldSize` so no half-appended tail is served. (Bytes overwritten
   * inside the old size cannot be restored; FastDFS MODIFY has the same contract.)
   */
  private async writeAt(fh: fsp.FileHandle, key: string, offset: number, oldSize: number, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<BlobMeta> {
    const growth = Math.max(0, offset + size - oldSize)
    if (growth) await this.ensureFree(growth)
    let pos = offset
    try {
      for await (const chunk of body) {
        if (signal?.aborted) throw new EngineError(E.ABORTED, 'write aborted')
        if (pos + chunk.length > offset + size) throw new EngineError(E.SIZE_MISMATCH, `body longer than declared ${size} bytes`)
        await writeAll(fh, chunk, pos)
        pos += chunk.length
      }
      if (pos !== offset + size) throw new EngineError(E.SIZE_MISMATCH, `body of ${pos - offset} bytes, declared ${size}`)
      if (this.fsync === 'always') await fh.datasync()
      const st = await fh.stat()
      return { key, size: st.size, mtimeMs: st.mtimeMs }
    } catch (e) {
      const st = await fh.stat().catch(() => undefined)
      if (st && st.size > oldSize) await fh.truncate(oldSize).catch(() => {})
      throw wrapIo(e)
    }
  }

  private async openExisting(key: string): Promise<fsp.FileHandle> {
    try {
      return await fsp.open(this.file(key), 'r+')
    } catch (e) {
      if (e instanceof EngineError) throw e
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') throw new EngineError(E.NOT_FOUND, `no such blob: ${key}`)
      throw wrapIo(e)
    }
  }

  async truncate(key: string, size: number): Promise<BlobMeta> {
    return this.changing(key, async () => {
      const fh = await this.openExisting(key)
      try {
        const st = await fh.stat()
        if (size > st.size) await this.ensureFree(size - st.size)
        await fh.truncate(size)
        if (this.fsync === 'always') await fh.datasync()
        const st2 = await fh.stat()
        return { key, size: st2.size, mtimeMs: st2.mtimeMs }
      } finally {
        await fh.close().catch(() => {})
      }
    })
  }

  async rename(from: string, to: string, overwrite = true): Promise<boolean> {
    this.recent.delete(from)
    this.recent.delete(to)
    const src = this.file(from)
    const dst = this.file(to)
    try {
      await this.ensureDir(path.dirname(dst))
      if (overwrite) {
        await fsp.rename(src, dst)
      } else {
        await fsp.link(src, dst)
        await fsp.unlink(src)
      }
      return true
    } catch (e) {
      if (errno(e) === 'ENOENT') return false
      if (errno(e) === 'EEXIST') throw new EngineError(E.EXISTS, `blob exists: ${to}`)
      throw wrapIo(e)
    }
  }

  async link(from: string, to: string): Promise<void> {
    // After a hard link a write through either name changes both: neither is cached from here on.
    this.recent.delete(from)
    this.recent.delete(to)
    const src = this.file(from)
    const dst = this.file(to)
    await this.ensureDir(path.dirname(dst))
    try {
      await fsp.link(src, dst)
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new EngineError(E.NOT_FOUND, `no such blob: ${from}`)
      if (errno(e) === 'EEXIST') throw new EngineError(E.EXISTS, `blob exists: ${to}`)
      if (errno(e) === 'EPERM' || errno(e) === 'EXDEV' || errno(e) === 'EMLINK') {
        const h = await this.openRead(from)
        if (!h) throw new EngineError(E.NOT_FOUND, `no such blob: ${from}`)
        await this.put(to, h.stream, { size: h.size, overwrite: false })
        return
      }
      throw wrapIo(e)
    }
  }

  async checksum(key: string, digest?: DigestAlgorithm): Promise<{ crc32: number; size: number; digest?: Buffer } | undefined> {
    const h = await this.openRead(key)
    if (!h) return undefined
    let crc = 0
    const hash = digest ? createHash(digest) : undefined
    for await (const chunk of h.stream as AsyncIterable<Buffer>) {
      crc = crc32Update(crc, chunk)
      hash?.update(chunk)
    }
    return { crc32: crc, size: h.size, digest: hash?.digest() }
  }

  async *list(prefix = ''): AsyncIterable<string> {
    const base = prefix ? this.file(prefix) : this.root
    let entries: import('node:fs').Dirent[]
    try {
      entries = await fsp.readdir(base, { withFileTypes: true })
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return
      throw wrapIo(e)
    }
    for (const d of entries) {
      if (d.name === TMP_DIR) continue
      const k = prefix ? `${prefix}/${d.name}` : d.name
      if (d.isDirectory()) yield* this.list(k)
      else if (d.isFile()) yield k
    }
  }
}

/**
 * Bytes gathered before a write on the streamed put path. Why 512 KiB: large
 * enough that thread-pool round trips stop mattering, small enough that a
 * thousand concurrent uploads stay well inside memory (the body still streams).
 */
const WRITE_BATCH = 512 * 1024

/** Write buf[0, n) at `position`, retrying partial writes. */
async function writeAllAt(fd: number, buf: Buffer, n: number, position: number): Promise<void> {
  let off = 0
  while (off < n) {
    const { bytesWritten } = await writeP(fd, buf, off, n - off, position + off)
    off += bytesWritten
  }
}

const writeP = promisify(fs.write)
const fdatasyncP = promisify(fs.fdatasync)

async function writeAll(fh: fsp.FileHandle, chunk: Uint8Array, position?: number): Promise<void> {
  let off = 0
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position === undefined ? null : position + off)
    off += bytesWritten
  }
}

function wrapIo(e: unknown): Error {
  if (e instanceof EngineError) return e
  const code = errno(e)
  if (code === 'ENOSPC' || code === 'EDQUOT') return new EngineError(E.NO_SPACE, 'disk full', { cause: e })
  if ((e as Error)?.name === 'AbortError') return new EngineError(E.ABORTED, 'aborted', { cause: e })
  return new EngineError(E.IO, (e as Error)?.message ?? String(e), { cause: e })
}

/** [start, end) of `range` within a blob of `size` bytes (end clamped to the size); BAD_RANGE when it starts outside. */
function clampRange(range: { start: number; end?: number } | undefined, size: number): { start: number; end: number } {
  const start = range?.start ?? 0
  const end = Math.min(range?.end ?? size, size)
  if (start < 0 || start > size || end < start) throw new EngineError(E.BAD_RANGE, `range ${start}-${end} outside 0-${size}`)
  return { start, end }
}

/** readSmall's answer for a range it does not read at once (longer than SMALL_IO). */
export const LARGE = Symbol('large')

/**
 * A small range read by readSmall: `framed` holds the caller's headroom (uninitialised)
 * followed by the bytes of [start, end); `size` and `mtimeMs` describe the whole blob.
 */
export interface SmallRead {
  framed: Buffer
  size: number
  mtimeMs: number
  start: number
  end: number
}

function smallHandle(size: number, mtimeMs: number, start: number, end: number, buffer: Buffer): ReadHandle {
  let stream: Readable | undefined
  return {
    size,
    mtimeMs,
    start,
    end,
    buffer,
    get stream(): Readable {
      stream ??= Readable.from(buffer.length ? [buffer] : [])
      return stream
    },
  }
}
