/**
 * Root pino logger and the one-child-per-module convention.
 *
 * Every module does `const log = logger('engine.blob')` once at load time; the
 * binding `module` lets operators filter one subsystem. Level comes from
 * TANDEM_LOG_LEVEL (default `info`); tests set it to `warn` to keep output short.
 * Daemons log JSON lines to stdout, which the daemon launcher redirects to
 * `<base_path>/logs/<name>.log` when detached.
 */
import { pino, type Logger } from 'pino'

export type { Logger }

let root: Logger = pino({
  level: process.env.TANDEM_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
})

/** Replace the root logger (the daemon launcher calls this to name the process). */
export function setRootLogger(l: Logger): void {
  root = l
}

/** Returns a child logger bound to `module`; cheap, call once per module. */
export function logger(module: string): Logger {
  // A proxy child so modules that grabbed a logger before setRootLogger still
  // follow the current root (daemons rename the root after the modules load).
  const cache = new WeakMap<Logger, Logger>()
  const get = (): Logger => {
    let c = cache.get(root)
    if (!c) {
      c = root.child({ module })
      cache.set(root, c)
    }
    return c
  }
  return new Proxy({} as Logger, {
    get(_t, prop) {
      const target = get() as unknown as Record<string | symbol, unknown>
      const v = target[prop]
      return typeof v === 'function' ? (v as Function).bind(target) : v
    },
  })
}
