/**
 * `fdfs_storaged <storage.conf> [start|stop|restart]` (+ `--foreground`/`-n`):
 * the FastDFS storage server. Like the original it daemonizes on `start` (the
 * default), writes `<base_path>/data/fdfs_storaged.pid` and logs to
 * `<base_path>/logs/storaged.log`; unlike it, a relative conf path works.
 */
import path from 'node:path'
import { parseAction, runDaemon } from '../server/daemon.js'
import { loadStorageConfig } from '../personalities/fastdfs/storage/storage-conf.js'
import { startStorage } from '../personalities/fastdfs/storage/storaged.js'
import { metricsFromFile } from './metrics-conf.js'

export async function main(argv: string[]): Promise<number> {
  const confArg = argv.find((a) => !a.startsWith('-') && !['start', 'stop', 'restart', 'foreground'].includes(a))
  if (!confArg) {
    console.error(`Usage: fdfs_storaged <config_file> [start | stop | restart]`)
    return 1
  }
  let cfg
  try {
    cfg = loadStorageConfig(path.resolve(confArg))
  } catch (e) {
    console.error(`fdfs_storaged: ${(e as Error).message}`)
    return 2
  }
  return runDaemon({ name: 'fdfs_storaged', pidFile: cfg.pidFile, logFile: cfg.logFile, run: () => startStorage(cfg), ...metricsFromFile(path.resolve(confArg)) }, parseAction(argv) ?? 'start')
}
