/**
 * renameat2(RENAME_NOREPLACE) through the optional native addon (native/fsops.c).
 *
 * Called by the blob store's commit (local-blob-store.ts) to move a finished
 * temp file to its key without clobbering an existing blob: one atomic syscall
 * instead of an existence check plus rename(2).
 *
 * Absent means: the addon was not built or failed to load, it lacks the
 * function (not Linux), or `TANDEM_NO_NATIVE_FS=1` is set. Then
 * `renameNoReplaceSync` returns false without touching anything, and so it does
 * when the filesystem or kernel refuses the flag (EINVAL, ENOSYS); the caller
 * falls back to its check + rename; after the first such refusal the process
 * stops trying.
 */
import fs from 'node:fs'
import { nativeAddon } from './native-addon.js'

type RenameNoReplace = (from: string, to: string) => void

let fn: RenameNoReplace | null | undefined

function load(): RenameNoReplace | null {
  if (fn !== undefined) return fn
  fn = null
  if (process.env.TANDEM_NO_NATIVE_FS === '1') return fn
  const m = nativeAddon()
  if (m && typeof m.renameNoReplace === 'function') fn = m.renameNoReplace as RenameNoReplace
  return fn
}

/** True when renameat2 without replace can be attempted (decided once, at the first call). */
export function renameNoReplaceAvailable(): boolean {
  return load() !== null
}

/**
 * Rename `from` to `to` only if `to` does not exist. Returns true when renamed,
 * false when unavailable here (see above; nothing was done). Throws the system
 * error otherwise, with `code` EEXIST when `to` exists.
 */
export function renameNoReplaceSync(from: string, to: string): boolean {
  const f = load()
  if (!f) return false
  try {
    f(from, to)
    return true
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code === 'EINVAL' || code === 'ENOSYS') {
      // The kernel or a filesystem of this process does not take the flag: use the fallback from
      // now on (it is correct everywhere) rather than paying a failing syscall per commit.
      fn = null
      return false
    }
    throw e
  }
}

/**
 * Unnamed small files (O_TMPFILE) named by link(2): native/fsops.c's tmpfileWrite and linkFd.
 *
 * Called by the blob store's synchronous small-body commit (local-blob-store.ts) for puts that
 * must not replace an existing blob. Absent means: no addon, no such functions (not Linux), or
 * `TANDEM_NO_NATIVE_FS=1` or `TANDEM_NO_TMPFILE=1` (this part only); `tmpfileWriteSync` then returns null without touching anything, and
 * so it does from the first time a filesystem refuses O_TMPFILE (EOPNOTSUPP, EISDIR, EINVAL),
 * after which the process stops trying. The caller then uses temp file + rename.
 */
type TmpfileWrite = (dir: string, buf: Buffer, len: number, mtimeSec: number, sameSecondOk?: boolean) => [number, number, number]
type LinkFd = (fd: number, to: string) => void

let tmpfileFns: { write: TmpfileWrite; link: LinkFd } | null | undefined

function loadTmpfile(): { write: TmpfileWrite; link: LinkFd } | null {
  if (tmpfileFns !== undefined) return tmpfileFns
  tmpfileFns = null
  if (process.env.TANDEM_NO_NATIVE_FS === '1' || process.env.TANDEM_NO_TMPFILE === '1') return tmpfileFns
  const m = nativeAddon()
  if (m && typeof m.tmpfileWrite === 'function' && typeof m.linkFd === 'function') {
    tmpfileFns = { write: m.tmpfileWrite as TmpfileWrite, link: m.linkFd as LinkFd }
  }
  return tmpfileFns
}

/** An unnamed file written by `tmpfileWriteSync`, still open. */
export interface UnnamedFile {
  fd: number
  mtimeMs: number
  ino: number
}

/**
 * Write `buf[0..len)` to a new unnamed file on the filesystem of `dir`, mtime set to `mtime`
 * when given; with `sameSecondOk` (and a whole-second `mtime`) a file whose own mtime already
 * falls in that second is left as written (no futimens). Returns it open, or null when
 * unavailable here (see above; nothing was done). Throws other system errors (ENOSPC, EIO,
 * ...) with their `code`.
 */
export function tmpfileWriteSync(dir: string, buf: Buffer, len: number, mtime?: Date, sameSecondOk = false): UnnamedFile | null {
  const f = loadTmpfile()
  if (!f) return null
  try {
    const [fd, mtimeMs, ino] = f.write(dir, buf, len, mtime ? mtime.getTime() / 1000 : NaN, sameSecondOk)
    return { fd, mtimeMs, ino }
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code === 'EOPNOTSUPP' || code === 'EISDIR' || code === 'EINVAL' || code === 'ENOSYS') {
      tmpfileFns = null
      return null
    }
    throw e
  }
}

/**
 * Name the unnamed file `fd` `to` (never replacing: EEXIST when `to` exists). Throws the system
 * error with its `code`; the caller still owns and closes `fd`.
 */
export function linkFdSync(fd: number, to: string): void {
  const f = loadTmpfile()
  if (!f) throw Object.assign(new Error('linkFd unavailable'), { code: 'ENOSYS' })
  f.link(fd, to)
}

/** Stop using unnamed files in this process (a filesystem refused to link one). */
export function disableTmpfile(): void {
  tmpfileFns = null
}

/**
 * stat(2) without Node's Stats object: native/fsops.c's statInto.
 *
 * Called by the blob store on its small-read path (the recent-writes cache check and
 * stat()). Absent means undefined: no such file (ENOENT, ENOTDIR). Without the addon
 * (or with `TANDEM_NO_NATIVE_FS=1`) it uses fs.statSync; other errors throw as
 * fs.statSync throws them.
 */
export interface LiteStat {
  size: number
  mtimeMs: number
  ino: number
  isFile: boolean
}

type StatInto = (p: string, out: Float64Array) => number

let statFn: StatInto | null | undefined
const statOut = new Float64Array(4)
const ENOENT = -2
const ENOTDIR = -20

export function statLiteSync(p: string): LiteStat | undefined {
  if (statFn === undefined) {
    statFn = null
    const m = process.env.TANDEM_NO_NATIVE_FS === '1' ? undefined : nativeAddon()
    if (m && typeof m.statInto === 'function') statFn = m.statInto as StatInto
  }
  if (statFn) {
    const r = statFn(p, statOut)
    if (r === 0) return { size: statOut[0], mtimeMs: statOut[1], ino: statOut[2], isFile: statOut[3] === 1 }
    if (r === ENOENT || r === ENOTDIR) return undefined
    // Anything else: let Node raise it with its usual shape (code, path, syscall).
  }
  const st = fs.statSync(p, { throwIfNoEntry: false })
  return st && { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, isFile: st.isFile() }
}

/**
 * A small range of a file read in one call: native/fsops.c's readInto (open, fstat, pread,
 * close). Called by the blob store's synchronous small-read path (LocalBlobStore.readSmall).
 *
 * Returns the bytes read into dst[dstOff..] with `readOut` = [size, mtimeMs, ino, start]
 * filled in, or a negative errno (see READ_* below; -ENOENT/-ENOTDIR = absent). `null` means
 * the addon is not there (or `TANDEM_NO_NATIVE_FS=1`): the caller reads with node:fs.
 */
type ReadInto = (p: string, dst: Buffer, dstOff: number, start: number, end: number, maxLen: number, out: Float64Array) => number

let readFn: ReadInto | null | undefined
/** [size, mtimeMs, ino, start] of the last readIntoSync; valid until the next call. */
export const readOut = new Float64Array(4)
export const READ_ENOENT = -2
export const READ_ENOTDIR = -20
export const READ_EISDIR = -21
export const READ_ERANGE = -34
export const READ_EFBIG = -27

export function readIntoSync(p: string, dst: Buffer, dstOff: number, start: number, end: number, maxLen: number): number | null {
  if (readFn === undefined) {
    readFn = null
    const m = process.env.TANDEM_NO_NATIVE_FS === '1' ? undefined : nativeAddon()
    if (m && typeof m.readInto === 'function') readFn = m.readInto as ReadInto
  }
  return readFn ? readFn(p, dst, dstOff, start, end, maxLen, readOut) : null
}
