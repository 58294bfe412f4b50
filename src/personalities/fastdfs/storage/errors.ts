/**
 * Storage-server error codes. A StorageError carries the errno the real
 * fdfs_storaged puts in the reply's status byte; the dispatcher sends it and
 * keeps the connection (or closes it when `close` is set, for framing errors).
 */
import { isEngineError, ENGINE_ERRORS } from '../../../engine/errors.js'
import { ERRNO } from '../protocol/constants.js'
import { FileIdError } from '../file-id.js'

export const STORAGE_ERRORS = {
  BAD_REQUEST: 'FDFS_STORAGE_BAD_REQUEST',
  NOT_FOUND: 'FDFS_STORAGE_NOT_FOUND',
  EXISTS: 'FDFS_STORAGE_EXISTS',
  NO_SPACE: 'FDFS_STORAGE_NO_SPACE',
  IO: 'FDFS_STORAGE_IO',
} as const

const CODE_BY_ERRNO: Record<number, string> = {
  [ERRNO.EINVAL]: STORAGE_ERRORS.BAD_REQUEST,
  [ERRNO.ENOENT]: STORAGE_ERRORS.NOT_FOUND,
  [ERRNO.EEXIST]: STORAGE_ERRORS.EXISTS,
  [ERRNO.ENOSPC]: STORAGE_ERRORS.NO_SPACE,
}

/** A request failure carrying the reply errno; thrown by handlers, caught by the dispatcher. */
export class StorageError extends Error {
  readonly code: string
  constructor(
    readonly errno: number,
    message: string,
    readonly close = false,
  ) {
    super(message)
    this.name = 'StorageError'
    this.code = CODE_BY_ERRNO[errno] ?? STORAGE_ERRORS.IO
  }
}

/** EINVAL (22), the real server's answer to any malformed request. */
export const einval = (msg: string, close = false) => new StorageError(ERRNO.EINVAL, msg, close)
/** ENOENT (2): the named file is absent. */
export const enoent = (msg: string) => new StorageError(ERRNO.ENOENT, msg)

/** Map any thrown value to the errno to reply with (engine and name errors included). */
export function errnoOf(e: unknown): number {
  if (e instanceof StorageError) return e.errno
  if (e instanceof FileIdError) return ERRNO.EINVAL
  if (isEngineError(e)) {
    switch (e.code) {
      case ENGINE_ERRORS.NOT_FOUND:
        return ERRNO.ENOENT
      case ENGINE_ERRORS.EXISTS:
        return ERRNO.EEXIST
      case ENGINE_ERRORS.NO_SPACE:
        return ERRNO.ENOSPC
      case ENGINE_ERRORS.BAD_KEY:
      case ENGINE_ERRORS.BAD_RANGE:
      case ENGINE_ERRORS.SIZE_MISMATCH:
        return ERRNO.EINVAL
      default:
        return ERRNO.EIO
    }
  }
  const code = (e as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT') return ERRNO.ENOENT
  if (code === 'ENOSPC') return ERRNO.ENOSPC
  return ERRNO.EIO
}
