/**
 * Client-side error codes. Tracker errors keep the tracker's own code
 * (`unknown_key`, `none_match`, ...: spec §1.6); local failures use the
 * `client_*` codes below. `errstr` is what MogileFS::Client's errstr gives:
 * `"<code> <message>"`, which the CLI tools print.
 */
export const CLIENT_ERRORS = {
  NO_TRACKERS: 'client_no_trackers',
  CONNECT: 'client_connect',
  TIMEOUT: 'client_timeout',
  PROTOCOL: 'client_protocol',
  HTTP: 'client_http',
  NO_PATHS: 'client_no_paths',
  BAD_ARGS: 'client_bad_args',
} as const

export class MogileError extends Error {
  constructor(
    /** Tracker error code (`unknown_key`) or a CLIENT_ERRORS value. */
    readonly code: string,
    message: string,
    /** True when the tracker answered `ERR` (as opposed to a local/transport failure). */
    readonly fromTracker = false,
  ) {
    super(message)
    this.name = 'MogileError'
  }

  /** `code message`, as MogileFS::Client->errstr prints it. */
  get errstr(): string {
    return this.fromTracker ? `${this.code} ${this.message}` : this.message
  }
}

/** True when `e` is a tracker `ERR` with `code`. */
export function isTrackerError(e: unknown, code?: string): e is MogileError {
  return e instanceof MogileError && e.fromTracker && (code === undefined || e.code === code)
}
