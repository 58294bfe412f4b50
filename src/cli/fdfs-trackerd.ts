/**
 * `fdfs_trackerd <tracker.conf> [start|stop|restart]` (+ `--foreground`/`-n`):
 * the FastDFS tracker. Like the original it daemonizes on `start` (the
 * default), writes `<base_path>/data/fdfs_trackerd.pid` and logs to
 * `<base_path>/logs/trackerd.log`.
 */
import path from 'node:path'
import { parseAction, runDaemon } from '../server/daemon.js'
import { loadTrackerConf } from '../personalities/fastdfs/tracker/tracker-conf.js'
import { startTracker } from '../personalities/fastdfs/tracker/server.js'
import { metricsFromFile } from './metrics-conf.js'

export async function main(argv: string[]): Promise<number> {
  const confArg = argv.find((a) => !a.startsWith('-') && !['start', 'stop', 'restart', 'foreground'].includes(a))
  if (!confArg) {
    console.error(`Usage: fdfs_trackerd <config_file> [start | stop | restart]`)
    return 1
  }
  let conf
  try {
    conf = loadTrackerConf(path.resolve(confArg))
  } catch (e) {
    console.error(`fdfs_trackerd: ${(e as Error).message}`)
    return 2
  }
  if (conf.disabled) {
    console.error(`fdfs_trackerd: config file ${confArg} disabled = true, exit`)
    return 1
  }
  return runDaemon(
    {
      name: 'fdfs_trackerd',
      pidFile: path.join(conf.basePath, 'data', 'fdfs_trackerd.pid'),
      logFile: path.join(conf.basePath, 'logs', 'trackerd.log'),
      run: () => startTracker(conf),
      ...metricsFromFile(path.resolve(confArg)),
    },
    parseAction(argv) ?? "start",
  )
}
