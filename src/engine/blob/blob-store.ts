/**
 * The blob-store contract: the only way personalities touch file bytes on disk.
 *
 * A blob is addressed by a *key*: a relative, '/'-separated path below the store's
 * root (e.g. `data/00/1A/wKgB...bin` for FastDFS or `0/000/000/0000000123.fid` for
 * MogileFS). The personality chooses the key layout; the store validates it
 * (no `..`, no absolute paths, no NUL, no dot-prefixed engine-private segments)
 * and guarantees:
 *  - a put is written to a private temp file and renamed into place only when the
 *    whole body arrived (and matched the declared size): readers never see a
 *    partial file at the final key;
 *  - CRC32 (and an optional MD5/SHA-1) is computed while streaming;
 *  - space is checked *before* a byte is streamed when the size is declared.
 *
 * Absence is never an exception for queries: `stat`/`openRead` return `undefined`
 * and `delete` returns `false`. Mutations of a missing blob throw
 * `EngineError(NOT_FOUND)`.
 */
import type { Readable } from 'node:stream'

export interface BlobMeta {
  key: string
  size: number
  mtimeMs: number
}

export interface PutResult extends BlobMeta {
  /** CRC32 (zlib) of the whole body as written. */
  crc32: number
  /** Raw digest bytes when `PutOptions.digest` was asked for. */
  digest?: Buffer
}

export type DigestAlgorithm = 'md5' | 'sha1'

export interface PutOptions {
  /** Declared size. When set: free space is checked before streaming, and a body of another length fails with SIZE_MISMATCH and leaves nothing behind. */
  size?: number
  /** Default true. When false and the key exists, throws EXISTS (checked again at rename time). */
  overwrite?: boolean
  /** Also compute this digest while streaming. */
  digest?: DigestAlgorithm
  /** When set with `digest`, a different digest fails with CHECKSUM_MISMATCH and nothing is written. */
  expectDigest?: Buffer
  /** Set the file's mtime after writing (used by replicas to keep the source timestamp). */
  mtime?: Date
  /**
   * With a whole-second `mtime`: only the second must match, so a file written within that
   * second may keep its own sub-second mtime (a store may then skip setting it). For callers
   * that read mtimes as whole seconds, such as FastDFS, whose names carry the second.
   */
  mtimeSecondOnly?: boolean
  /** Aborting deletes the temp file and rejects with ABORTED. */
  signal?: AbortSignal
}

export interface ReadHandle {
  /** Total size of the blob. */
  size: number
  mtimeMs: number
  /** Byte range actually served: [start, end) clamped to the blob. */
  start: number
  end: number
  /**
   * For small ranges the bytes are already read: protocol code can send them
   * with its header in one write. Absent for large ranges (use `stream`).
   */
  buffer?: Buffer
  /** The bytes of [start, end). Must be consumed or destroyed (nothing to release when `buffer` is set). */
  stream: Readable
  /**
   * The open file descriptor behind `stream`, for zero-copy sends (sendfile(2),
   * see engine/io/sendfile.ts) by download handlers. Present only on the streamed
   * path of a store with local files (absent when `buffer` is set). Valid until
   * `stream.destroy()`, which closes it; use it only while the stream has not been
   * read, read it only with explicit offsets (`start`..`end`), and destroy the
   * stream afterwards.
   */
  fd?: number
}

/**
 * Picks the final key once the body is written (its CRC32 and size known), for
 * names derived from content (FastDFS file names carry both). Called again with
 * attempt+1 when the key already exists; an existing blob is never overwritten.
 */
export type KeyChooser = (r: { crc32: number; size: number; attempt: number }) => string

export interface DiskUsage {
  totalBytes: number
  freeBytes: number
  /** Bytes that must stay free (from the reserved-space rule). */
  reservedBytes: number
}

/**
 * A body that can move itself into a file without passing through the JS heap (a socket
 * body received natively, see io/recv-file.ts). Offered by the server layer's socket reader;
 * called by LocalBlobStore.put for a large body before it iterates anything.
 *
 * `intoFile` writes the whole body into `fd` from `position` and resolves with its length and
 * CRC-32; it returns `undefined` ("absent": not possible now, nothing consumed) and the store
 * iterates the body as usual. Once called and not undefined, the body must not be iterated.
 * A failure leaves the body's source unusable (its connection is closed).
 */
export interface DirectBody<T extends Uint8Array = Uint8Array> extends AsyncIterable<T> {
  intoFile?(fd: number, position: number): Promise<{ bytes: number; crc32: number }> | undefined
}

export interface BlobStore {
  /** Absolute root directory of this store path. */
  readonly root: string

  /**
   * Stream `body` into `key` (see the module doc for the guarantees). Called by
   * upload/PUT/replica handlers. With a KeyChooser the key is picked after the
   * body is complete and never clobbers (PutResult.key is the one chosen).
   * A chunk must not be changed after it is yielded: stores may hold a few
   * hundred KiB of chunks to write them together.
   */
  put(key: string | KeyChooser, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult>

  /** Open for reading, optionally a byte range; `undefined` when absent. Called by download/GET handlers. */
  openRead(key: string, range?: { start: number; end?: number }): Promise<ReadHandle | undefined>

  /** Size and mtime, or `undefined` when absent. */
  stat(key: string): Promise<BlobMeta | undefined>

  /** Remove the blob; `false` when it was already absent. */
  delete(key: string): Promise<boolean>

  /** Append exactly `size` bytes at the current end (appender files). On failure the blob is cut back to its old size. */
  append(key: string, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<BlobMeta>

  /** Overwrite `size` bytes at `offset` (offset <= current size; may extend the blob). */
  modify(key: string, offset: number, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<BlobMeta>

  /** Cut (or zero-extend) the blob to `size` bytes. */
  truncate(key: string, size: number): Promise<BlobMeta>

  /** Atomically move a blob to a new key; `false` if `from` is absent. Throws EXISTS if `to` exists and !overwrite. */
  rename(from: string, to: string, overwrite?: boolean): Promise<boolean>

  /** Make `to` another name for `from` (hard link, falls back to a copy). Throws NOT_FOUND / EXISTS. */
  link(from: string, to: string): Promise<void>

  /** CRC32 of the blob's current content (streams it); `undefined` when absent. */
  checksum(key: string, digest?: DigestAlgorithm): Promise<{ crc32: number; size: number; digest?: Buffer } | undefined>

  /** Keys below `prefix` (a directory key or ''), depth-first, unordered within a directory. */
  list(prefix?: string): AsyncIterable<string>

  /** Free space per statfs, with the reserved rule applied. */
  usage(): Promise<DiskUsage>

  /** Throws NO_SPACE unless `bytes` more fit above the reserved space. */
  ensureFree(bytes: number): Promise<void>
}
