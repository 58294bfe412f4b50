/**
 * `mogilefsd` — the MogileFS tracker. Usage as the reference:
 *   mogilefsd [--config=FILE | -c FILE] [--daemon] [--<conf_key>=value ...]
 * Default config /etc/mogilefs/mogilefsd.conf (optional: without it the
 * defaults apply, i.e. SQLite file mogilefs.sqlite in the working directory).
 * Any config key can be given as `--key=value` and overrides the file. The
 * schema is created or migrated on start. Runs in the foreground unless
 * `--daemon` or `daemonize = 1`; SIGTERM stops it gracefully.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ConfFile } from '../config/conf-file.js'
import { runDaemon } from '../server/daemon.js'
import { Tracker } from '../personalities/mogilefs/tracker/tracker.js'
import { trackerConf } from '../personalities/mogilefs/tracker/tracker-conf.js'
import { metricsFromConf } from './metrics-conf.js'

const DEFAULT_CONF = '/etc/mogilefs/mogilefsd.conf'

const USAGE = `Usage: mogilefsd [--config=FILE|-c FILE] [--daemon] [--key=value ...]
  -c, --config=FILE   configuration file (default ${DEFAULT_CONF})
  --daemon            detach and run in the background
  --key=value         any mogilefsd.conf key (db_dsn, listen, ...), overrides the file
`

export async function main(argv: string[]): Promise<number> {
  let confPath: string | undefined
  let daemon = false
  const overrides: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE)
      return 0
    } else if (a === '-c' || a === '--config') confPath = argv[++i]
    else if (a.startsWith('--config=')) confPath = a.slice('--config='.length)
    else if (a === '--daemon' || a === '-d') daemon = true
    else if (/^--?\w+=/.test(a)) {
      const [k, ...v] = a.replace(/^--?/, '').split('=')
      overrides.push(`${k} = ${v.join('=')}`)
    } else if (/^--?\w+$/.test(a) && argv[i + 1] !== undefined && !argv[i + 1].startsWith('-')) overrides.push(`${a.replace(/^--?/, '')} = ${argv[++i]}`)
    else {
      process.stderr.write(`mogilefsd: unknown argument ${a}\n${USAGE}`)
      return 1
    }
  }
  const file = confPath ?? DEFAULT_CONF
  if (confPath && !existsSync(confPath)) {
    process.stderr.write(`mogilefsd: config file ${confPath} not found\n`)
    return 1
  }
  const text = (existsSync(file) ? readFileSync(file, 'utf8') : '') + '\n' + overrides.join('\n') + '\n'
  let conf
  try {
    conf = trackerConf(ConfFile.parse(text, path.resolve(file)))
  } catch (e) {
    process.stderr.write(`mogilefsd: ${(e as Error).message}\n`)
    return 1
  }
  const pidFile = conf.pidfile ?? path.resolve(process.env.TMPDIR ?? '/tmp', `mogilefsd-${conf.listen.port}.pid`)
  const logFile = pidFile.replace(/\.pid$/, '') + '.log'
  return runDaemon(
    { name: 'mogilefsd', pidFile, logFile, run: () => Tracker.start(conf), ...metricsFromConf(ConfFile.parse(text, path.resolve(file))) },
    daemon || conf.daemonize ? 'start' : 'foreground',
  )
}
