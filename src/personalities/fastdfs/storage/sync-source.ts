/**
 * The storage's FileStore seen by the sync sender (sync/peer-sender.ts
 * `SyncSource`) and the HTTP front: open/stat a stored file by its remote name
 * (`M00/HH/LL/name`, including `-m` metadata side files). Absent files (and
 * names that do not decode) are `undefined`, never an error, so a sender skips
 * records whose file is gone. Built by storaged.ts.
 */
import type { BlobMeta, ReadHandle } from '../../../engine/blob/blob-store.js'
import { LARGE, type SmallRead } from '../../../engine/blob/local-blob-store.js'
import { ENGINE_ERRORS, isEngineError } from '../../../engine/errors.js'
import type { FileStore } from './store.js'

/** Where a remote name lives, or undefined for a name that is not valid here. */
function where(store: FileStore, remote: string, allowMeta: boolean): ReturnType<FileStore['locate']> | undefined {
  try {
    return store.locate(remote, allowMeta)
  } catch {
    return undefined
  }
}

/**
 * Open `remote` for reading, `range.end` exclusive. A range starting past the
 * end (the file shrank since the record was written) yields the whole file,
 * which the sender recognises by its size and ships as a full update.
 */
export async function openRemote(store: FileStore, remote: string, range?: { start: number; end?: number }, allowMeta = true): Promise<ReadHandle | undefined> {
  const f = where(store, remote, allowMeta)
  if (!f) return undefined
  try {
    return await f.store.openRead(f.key, range)
  } catch (e) {
    if (range && isEngineError(e, ENGINE_ERRORS.BAD_RANGE)) return f.store.openRead(f.key)
    throw e
  }
}

/** Size/mtime of `remote`, or undefined when absent. `allowMeta` false: `-m` side files count as absent (HTTP). */
export async function statRemote(store: FileStore, remote: string, allowMeta = true): Promise<BlobMeta | undefined> {
  const f = where(store, remote, allowMeta)
  return f ? f.store.stat(f.key) : undefined
}

/**
 * `remote` read synchronously into a buffer with `headroom` free bytes in front (for the sync
 * request's head), when it is small (LocalBlobStore.readSmall). Undefined when absent (like
 * openRemote); LARGE when it must be streamed with openRemote. Called by the sync sender's
 * small-create path.
 */
export function readRemoteNow(store: FileStore, remote: string, headroom: number): SmallRead | undefined | typeof LARGE {
  const f = where(store, remote, true)
  if (!f) return undefined
  return f.store.readSmall(f.key, undefined, headroom)
}
