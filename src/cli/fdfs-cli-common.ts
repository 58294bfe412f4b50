/**
 * Shared plumbing for our fdfs_* client tools: loading client.conf the way
 * fdfs_client_init reports failures, the C tools' error lines, local-time
 * formatting (`%Y-%m-%d %H:%M:%S`), and a stderr progress bar that appears
 * only on a TTY for large transfers (scripts parse stdout/stderr otherwise).
 */
import { existsSync } from 'node:fs'
import { loadClientConf, type ClientConf } from '../personalities/fastdfs/client/client-conf.js'
import { FdfsClient } from '../personalities/fastdfs/client/fdfs-client.js'
import { CLIENT_ERROR, FdfsError, strerror } from '../personalities/fastdfs/client/errors.js'

/** `[YYYY-MM-DD HH:MM:SS]` prefix of the C tools' log lines (local time). */
function stamp(): string {
  return `[${formatDatetime(Math.floor(Date.now() / 1000))}]`
}

/** Print a C-style log error line to stderr. */
export function logError(msg: string): void {
  process.stderr.write(`${stamp()} ERROR - ${msg}\n`)
}

/**
 * Load client.conf; on failure print what fdfs_client_init prints and return
 * the errno the tools exit with (2 for a missing file, 22 for a bad one).
 */
export function loadConfOrErrno(file: string): ClientConf | number {
  if (!existsSync(file)) {
    logError(`file ${file} not exist`)
    logError(`load conf file "${file}" fail, ret code: 2`)
    return 2
  }
  try {
    return loadClientConf(file)
  } catch (e) {
    logError(`load conf file "${file}" fail: ${(e as Error).message}`)
    return 22
  }
}

/** errno of any error (FdfsError carries it; others map to EIO). */
export function errnoOf(e: unknown): number {
  if (e instanceof FdfsError) return e.errno
  const code = (e as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT') return 2
  if (code === 'EACCES') return 13
  return 5
}

/** `error no: N, error info: TEXT` as the tools print it. */
export function errText(errno: number): string {
  return `error no: ${errno}, error info: ${strerror(errno)}`
}

/** Log connection-level failures like the C client does (stderr), for non-status errors. */
export function logFailure(e: unknown): void {
  if (e instanceof FdfsError) {
    if (e.code !== CLIENT_ERROR.ARGUMENT) logError(e.message)
  } else logError((e as Error).message)
}

/** Tool exit code: errno & 0xff like a C `return errno` from main. */
export function exitCode(errno: number): number {
  return errno & 0xff
}

/** `%Y-%m-%d %H:%M:%S` in local time. */
export function formatDatetime(sec: number): string {
  const d = new Date(sec * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/**
 * Exit code of a tool whose first tracker connection failed: the C tools return
 * the errno left by their non-blocking connect, EINPROGRESS (115), not ECONNREFUSED.
 */
export function trackerConnectExit(e: unknown): number {
  if (e instanceof FdfsError && e.code === CLIENT_ERROR.CONNECT) return 115
  return exitCode(errnoOf(e) || 111)
}

/**
 * Make a client, connect-checking the tracker first as the C tools do
 * (tracker_get_connection). Returns the client or the errno to exit with.
 */
export async function connectClient(conf: ClientConf): Promise<FdfsClient | number> {
  const client = new FdfsClient(conf)
  try {
    await client.tracker.activeTest()
    return client
  } catch (e) {
    logFailure(e)
    client.close()
    return trackerConnectExit(e)
  }
}

/** Transfers above this size get a progress bar when a terminal is attached. */
const PROGRESS_MIN = 8 * 1024 * 1024

/**
 * A progress callback drawing `[#####     ] 42% 12.3 MiB/30.0 MiB` on stderr,
 * or undefined when stderr is not a TTY or the transfer is small.
 */
export function progressBar(total: number): { onProgress?: (n: number) => void; done: () => void } {
  if (!process.stderr.isTTY || total <= PROGRESS_MIN) return { done: () => {} }
  let last = 0
  const mib = (n: number) => (n / 1048576).toFixed(1)
  const draw = (n: number) => {
    const pct = total ? Math.min(100, Math.floor((n * 100) / total)) : 100
    const w = 30
    const fill = Math.round((pct * w) / 100)
    process.stderr.write(`\r[${'#'.repeat(fill)}${' '.repeat(w - fill)}] ${String(pct).padStart(3)}% ${mib(n)} MiB/${mib(total)} MiB`)
  }
  return {
    onProgress: (n) => {
      const now = Date.now()
      // Why 100 ms: smooth enough for humans, cheap enough not to slow a fast transfer.
      if (now - last < 100 && n < total) return
      last = now
      draw(n)
    },
    done: () => {
      if (last) process.stderr.write('\n')
    },
  }
}
