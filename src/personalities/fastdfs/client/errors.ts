/**
 * Errors of the FastDFS client library. Every failure carries the errno the
 * C client would report (server status byte, or a local errno such as
 * ECONNREFUSED / ETIMEDOUT / EIO) and a stable `code`.
 */
export const CLIENT_ERROR = {
  /** The server answered with a non-zero status. */
  STATUS: 'FDFS_STATUS',
  /** Connect failed / refused / timed out. */
  CONNECT: 'FDFS_CONNECT',
  /** The connection broke or timed out mid-request. */
  NETWORK: 'FDFS_NETWORK',
  /** The reply did not have the expected shape. */
  PROTOCOL: 'FDFS_PROTOCOL',
  /** Bad argument from the caller (file id, sizes). */
  ARGUMENT: 'FDFS_ARGUMENT',
} as const

export type ClientErrorCode = (typeof CLIENT_ERROR)[keyof typeof CLIENT_ERROR]

export class FdfsError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    /** errno as the C tools print it ("error no: N"). */
    readonly errno: number,
    message: string,
  ) {
    super(message)
    this.name = 'FdfsError'
  }
}

/** errno text like strerror(3) for the values FastDFS uses. */
export function strerror(errno: number): string {
  return STRERROR[errno] ?? `Unknown error ${errno}`
}

const STRERROR: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  6: 'No such device or address',
  7: 'Argument list too long',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  16: 'Device or resource busy',
  17: 'File exists',
  22: 'Invalid argument',
  28: 'No space left on device',
  38: 'Function not implemented',
  61: 'No data available',
  95: 'Operation not supported',
  104: 'Connection reset by peer',
  110: 'Connection timed out',
  111: 'Connection refused',
  113: 'No route to host',
}
