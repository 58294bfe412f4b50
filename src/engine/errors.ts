/**
 * Engine error codes: the one place where storage-layer failures get stable names.
 * Personalities map these to their own wire errors (FastDFS errno status bytes,
 * MogileFS `ERR <code>` lines); the engine never knows those.
 */
export const ENGINE_ERRORS = {
  NOT_FOUND: 'ENGINE_NOT_FOUND',
  EXISTS: 'ENGINE_EXISTS',
  NO_SPACE: 'ENGINE_NO_SPACE',
  BAD_KEY: 'ENGINE_BAD_KEY',
  SIZE_MISMATCH: 'ENGINE_SIZE_MISMATCH',
  CHECKSUM_MISMATCH: 'ENGINE_CHECKSUM_MISMATCH',
  BAD_RANGE: 'ENGINE_BAD_RANGE',
  ABORTED: 'ENGINE_ABORTED',
  IO: 'ENGINE_IO',
} as const

export type EngineErrorCode = (typeof ENGINE_ERRORS)[keyof typeof ENGINE_ERRORS]

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'EngineError'
  }
}

export function isEngineError(e: unknown, code?: EngineErrorCode): e is EngineError {
  return e instanceof EngineError && (code === undefined || e.code === code)
}
