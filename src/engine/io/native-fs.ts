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
