/**
 * The storage's files on disk: one LocalBlobStore per store path (`M00` →
 * store_path0, key `data/HH/LL/<name>`), subdir allocation with persisted
 * round-robin counters, name generation, metadata side files and the binlog.
 * Used by the request handlers and (later) the sync sender/receiver.
 */
import * as fsp from 'node:fs/promises'
import path from 'node:path'
import { Binlog, writeFileAtomic, type BinlogPosition } from '../../../engine/binlog/binlog.js'
import { LocalBlobStore } from '../../../engine/blob/local-blob-store.js'
import type { KeyChooser, PutResult } from '../../../engine/blob/blob-store.js'
import type { ReservedRule } from '../../../engine/disk/reserved.js'
import { isEngineError, ENGINE_ERRORS } from '../../../engine/errors.js'
import { logger } from '../../../log.js'
import { decodeFileName, encodeFileName, formatExtPart, type DecodedFileName } from '../file-id.js'
import { META_SUFFIX } from '../metadata.js'
import { StorageStats } from './stats.js'
import type { StorageConfig } from './storage-conf.js'
import { einval } from './errors.js'

const log = logger('fastdfs.storage.store')

/** Staging directory (inside each store path) for complete uploads awaiting their final name. */
const STAGE_DIR = 'data/.stage'
/** Why 10: the C server retries a colliding generated name a few times too; 10 random draws never all collide. */
const NAME_RETRIES = 10
/** Why 1 s: see saveStatSoon; a restart after a crash tolerates a stale position. */
const STAT_SOON_MS = 1000

/** Round-robin position for new files (persisted in data/storage_stat.dat). */
export interface DistState {
  high: number
  low: number
  count: number
  /** Next store path for round robin when the client lets us choose (index 255). */
  nextPath: number
}

/**
 * All store paths, the binlog and the counters of one storage. Handlers call
 * `locate` (EINVAL on bad names), `stage`+`commitNew` for uploads and `record`
 * for binlog lines; absent files show up as `undefined` from the blob stores.
 */
export class FileStore {
  readonly stats = new StorageStats()
  private dist: DistState = { high: 0, low: 0, count: 0, nextPath: 0 }
  private stageSeq = 0
  private statFile: string
  /** Pending saveStatSoon; absent when none is due. */
  private statTimer?: NodeJS.Timeout
  private constructor(
    readonly cfg: StorageConfig,
    readonly paths: LocalBlobStore[],
    readonly binlog: Binlog,
    /** Source field written into new names (IPv4 or numeric id); set once known. */
    public source: string,
  ) {
    this.statFile = path.join(cfg.basePath, 'data', 'storage_stat.dat')
  }

  /** Open every store path and the binlog; restores counters from `data/storage_stat.dat`. */
  static async open(cfg: StorageConfig, reserved: ReservedRule, source: string): Promise<FileStore> {
    await fsp.mkdir(path.join(cfg.basePath, 'data', 'sync'), { recursive: true })
    await fsp.mkdir(path.join(cfg.basePath, 'logs'), { recursive: true })
    const paths: LocalBlobStore[] = []
    for (const p of cfg.storePaths) {
      const s = await LocalBlobStore.open({ root: p, reserved, fsync: cfg.fsync })
      // A crash between "upload complete" and "renamed to its final name" leaves a
      // never-acknowledged file here; it is garbage.
      await fsp.rm(path.join(p, STAGE_DIR), { recursive: true, force: true })
      paths.push(s)
    }
    const binlog = await Binlog.open({ dir: path.join(cfg.basePath, 'data', 'sync'), prefix: 'binlog', fsync: cfg.fsync === 'always' })
    const fs = new FileStore(cfg, paths, binlog, source)
    await fs.loadStat()
    fs.prepareNextDirs()
    return fs
  }

  private async loadStat(): Promise<void> {
    try {
      const text = await fsp.readFile(this.statFile, 'utf8')
      this.stats.loadIni(text)
      const num = (k: string) => Number(new RegExp(`^${k}=(\\d+)$`, 'm').exec(text)?.[1] ?? 0)
      this.dist = { high: num('dist_path_index_high'), low: num('dist_path_index_low'), count: num('dist_write_file_count'), nextPath: num('store_path_next') }
      if (this.dist.high >= this.cfg.subdirCount) this.dist.high = 0
      if (this.dist.low >= this.cfg.subdirCount) this.dist.low = 0
      if (this.dist.nextPath >= this.paths.length) this.dist.nextPath = 0
      // After a crash the saved position may be up to a second of rotations stale (saveStatSoon): move on to the next dir.
      if (!/^clean_shutdown=1$/m.test(text)) this.advanceDir()
    } catch {
      // absent on first start
    }
  }

  /** Persist counters and subdir position (`data/storage_stat.dat`, ini like the original). */
  async saveStat(clean = false): Promise<void> {
    const d = this.dist
    const text = `clean_shutdown=${clean ? 1 : 0}\ndist_path_index_high=${d.high}\ndist_path_index_low=${d.low}\ndist_write_file_count=${d.count}\nstore_path_next=${d.nextPath}\n` + this.stats.toIni()
    await writeFileAtomic(this.statFile, text)
  }

  /**
   * Save the subdir position within STAT_SOON_MS of a rotation, once for all the rotations in
   * between. Why not at every rotation: under thousands of small uploads a second a storage
   * rotates tens of times a second, and rewriting the stat file each time (build the text, temp
   * file, rename) cost ~2% of its CPU. A crash loses at most that second of position: the
   * restart moves on one directory from the saved one, so a few directories get more than
   * rotateCount files (names stay unique). The original saves it less often still.
   */
  private saveStatSoon(): void {
    if (this.statTimer) return
    this.statTimer = setTimeout(() => {
      this.statTimer = undefined
      this.saveStat().catch((e) => log.warn({ err: e }, 'saving dist counters failed'))
    }, STAT_SOON_MS)
    this.statTimer.unref()
  }

  private advanceDir(): void {
    this.dist.count = 0
    this.dist.low++
    if (this.dist.low >= this.cfg.subdirCount) {
      this.dist.low = 0
      this.dist.high = (this.dist.high + 1) % this.cfg.subdirCount
    }
    this.prepareNextDirs()
  }

  /**
   * Create the round-robin directory in use and the next one on every store path, in the
   * background. Why: the original storaged creates all 256×256 directories at first start; we
   * create them as the rotation reaches them, and a mkdir on a cold block group can take
   * milliseconds — too long to do synchronously in the upload path of the event loop.
   */
  private prepareNextDirs(): void {
    if (this.cfg.distributeMode !== 0) return
    const n = this.cfg.subdirCount
    const next = this.dist.low + 1 < n ? { high: this.dist.high, low: this.dist.low + 1 } : { high: (this.dist.high + 1) % n, low: 0 }
    for (const d of [{ high: this.dist.high, low: this.dist.low }, next]) {
      const rel = `data/${hex2(d.high)}/${hex2(d.low)}`
      for (const p of this.paths) p.prepareDir(rel).catch((e) => log.warn({ err: e, dir: rel }, 'could not prepare a data directory'))
    }
  }

  /** Pick a store path: the client's index, or round robin for 255. Throws EINVAL when out of range. */
  pickPath(index: number): number {
    if (index === 0xff) {
      const i = this.dist.nextPath
      this.dist.nextPath = (i + 1) % this.paths.length
      return i
    }
    if (index < 0 || index >= this.paths.length) throw einval(`store path index ${index} out of range`)
    return index
  }

  /** Subdir for the next new file (mode 0 round robin / mode 1 hash of the base64 part). */
  private pickSubdir(b64: string): { high: number; low: number } {
    if (this.cfg.distributeMode === 1) {
      let h = 0
      for (let i = 0; i < b64.length; i++) h = (Math.imul(h, 31) + b64.charCodeAt(i)) >>> 0
      return { high: (h >>> 8) % this.cfg.subdirCount, low: h % this.cfg.subdirCount }
    }
    const r = { high: this.dist.high, low: this.dist.low }
    if (++this.dist.count >= this.cfg.rotateCount) {
      this.advanceDir()
      this.saveStatSoon()
    }
    return r
  }

  /** Blob store of store path `i` (validated). */
  path(i: number): LocalBlobStore {
    const s = this.paths[i]
    if (!s) throw einval(`store path index ${i} out of range`)
    return s
  }

  /** Validate a remote filename and return where it lives (`-m` side files only for sync). Throws EINVAL. */
  locate(remote: string, allowMeta = false): { d: DecodedFileName; store: LocalBlobStore; key: string } {
    const d = decodeFileName(remote)
    if (d.subHigh >= this.cfg.subdirCount || d.subLow >= this.cfg.subdirCount) throw einval(`subdir out of range in ${remote}`)
    if (!allowMeta && d.fileName.endsWith(META_SUFFIX)) throw einval(`metadata side file name ${remote}`)
    return { d, store: this.path(d.storePathIndex), key: `data/${d.trueName}` }
  }

  /**
   * Stream an upload into store path `pathIndex` under a freshly generated name.
   * The name carries the content's CRC32 and size, so the engine picks the key
   * once the body is complete (one temp file, one link; a name collision just
   * draws new random digits). Returns the remote name (`M00/HH/LL/...`).
   */
  async storeNew(pathIndex: number, body: AsyncIterable<Uint8Array>, size: number, ext: string, appender: boolean, timestamp: number, signal?: AbortSignal): Promise<{ remote: string; put: PutResult }> {
    const n = this.namer(pathIndex, ext, appender, timestamp)
    // mtime = the name's create timestamp, set on the open file (no extra utimes later); only
    // its second matters (QUERY_FILE_INFO, HTTP and sync read whole seconds), so a file written
    // within that second keeps its own mtime and the store skips a futimens.
    const put = await this.path(pathIndex).put(n.choose, body, { size, signal, mtime: new Date(timestamp * 1000), mtimeSecondOnly: true })
    return { remote: n.remote, put }
  }

  /**
   * storeNew for a small body that is all in memory, synchronously (LocalBlobStore.putNow):
   * undefined, with nothing done, when the store cannot write it synchronously now.
   * Called by the upload fast path (handlers-upload.ts uploadNow).
   */
  storeNewNow(pathIndex: number, data: Buffer, ext: string, appender: boolean, timestamp: number): { remote: string; put: PutResult } | undefined {
    const n = this.namer(pathIndex, ext, appender, timestamp)
    const put = this.path(pathIndex).putNow(n.choose, data, { mtime: new Date(timestamp * 1000), mtimeSecondOnly: true })
    return put && { remote: n.remote, put }
  }

  /** The key chooser of a new file (the name carries the body's CRC32 and size) and the remote name it chose. */
  private namer(pathIndex: number, ext: string, appender: boolean, timestamp: number): { choose: KeyChooser; remote: string } {
    const out = {
      remote: '',
      choose: ({ crc32, size: n, attempt }: { crc32: number; size: number; attempt: number }) => {
        if (attempt >= NAME_RETRIES) throw einval('could not generate a unique file name')
        const probe = encodeFileName({ storePathIndex: pathIndex, subHigh: 0, subLow: 0, source: this.source, timestamp, size: n, crc32, appender, ext })
        const sub = this.pickSubdir(probe.slice(10, 37))
        out.remote = `${probe.slice(0, 4)}${hex2(sub.high)}/${hex2(sub.low)}/${probe.slice(10)}`
        return `data/${out.remote.slice(4)}`
      },
    }
    return out
  }

  /** True when `recordNow` can append synchronously (see Binlog.canAppendNow). */
  canRecordNow(): boolean {
    return this.binlog.canAppendNow()
  }

  /** `record` without the promise, for the synchronous request paths; only when `canRecordNow()`. */
  recordNow(op: string, remote: string, extra?: string, ts = Math.floor(Date.now() / 1000)): BinlogPosition {
    return this.binlog.appendNow(extra ? `${ts} ${op} ${remote} ${extra}` : `${ts} ${op} ${remote}`)
  }

  /**
   * `recordNow` for a record whose acknowledgement the caller holds back in a corked socket
   * (a pipelined sync record): written with the rest of the burst by `flushRecords`, which
   * must run before the held replies leave (Binlog.appendHeld). Only when `canRecordNow()`.
   */
  recordHeld(op: string, remote: string, ts: number): BinlogPosition {
    return this.binlog.appendHeld(`${ts} ${op} ${remote}`)
  }

  /** Write the records `recordHeld` kept (a no-op when none); throws the write's error. */
  flushRecords(): void {
    this.binlog.flushHeld()
  }

  /** Append one binlog record `<ts> <op> <name>[ extra]` (op upper-case = we are the source); resolves with the position after it. */
  async record(op: string, remote: string, extra?: string, ts = Math.floor(Date.now() / 1000)): Promise<BinlogPosition> {
    return this.binlog.append(extra ? `${ts} ${op} ${remote} ${extra}` : `${ts} ${op} ${remote}`)
  }

  /** Disk usage per store path in MB (for REPORT_DISK_USAGE). */
  async usageMb(): Promise<Array<{ totalMb: number; freeMb: number }>> {
    const out = []
    for (const s of this.paths) {
      const u = await s.usage()
      out.push({ totalMb: Math.floor(u.totalBytes / 1048576), freeMb: Math.floor(u.freeBytes / 1048576) })
    }
    return out
  }

  async close(): Promise<void> {
    clearTimeout(this.statTimer)
    this.statTimer = undefined
    await this.binlog.close()
    await this.saveStat(true).catch((e) => log.warn({ err: e }, 'saving stats failed'))
  }
}

function hex2(n: number): string {
  return (n < 16 ? '0' : '') + n.toString(16).toUpperCase()
}

/** Set a blob's mtime (the name's create timestamp) so QUERY_FILE_INFO and sync agree with the name. */
async function setMtime(root: string, key: string, ts: number): Promise<void> {
  const t = new Date(ts * 1000)
  await fsp.utimes(path.join(root, ...key.split('/')), t, t)
}

/** Used by regenerate-appender to give the renamed file its new name's timestamp. */
export { setMtime }
