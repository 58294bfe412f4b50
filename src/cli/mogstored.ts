/**
 * `mogstored` — MogileFS storage node (HTTP on 7500, mgmt/sidechannel on 7501).
 *
 *   mogstored [--config=FILE|-c FILE] [--httplisten=IP:PORT] [--mgmtlisten=IP:PORT]
 *             [--docroot=DIR] [--maxconns=N] [--pidfile=FILE] [--daemon|-d]
 *
 * Without --daemon it runs in the foreground (as the original does).
 */
import path from 'node:path'
import { Command } from 'commander'
import { runDaemon } from '../server/daemon.js'
import { loadMogstoredConfig, type MogstoredFlags } from '../personalities/mogilefs/storage-node/mogstored-conf.js'
import { buildMogstoredHttp } from '../personalities/mogilefs/storage-node/http.js'
import { DevStores } from '../personalities/mogilefs/storage-node/dev-stores.js'
import { createMgmtServer } from '../personalities/mogilefs/storage-node/mgmt.js'
import { startUsageWriter } from '../personalities/mogilefs/storage-node/usage.js'
import { logger } from '../log.js'
import { metricsFromFile } from './metrics-conf.js'

const log = logger('mogilefs.mogstored')

export async function main(argv: string[]): Promise<number> {
  const prog = new Command('mogstored')
    .option('-c, --config <file>', 'config file (default /etc/mogilefs/mogstored.conf)')
    .option('--httplisten <addr>', 'HTTP listen address (0.0.0.0:7500)')
    .option('--mgmtlisten <addr>', 'management listen address (0.0.0.0:7501)')
    .option('--docroot <dir>', 'directory holding dev<N> directories (/var/mogdata)')
    .option('--maxconns <n>', 'maximum HTTP connections')
    .option('--server <name>', 'HTTP server flavour (only perlbal-compatible built-in)')
    .option('--serverbin <path>', 'ignored (external HTTP servers are not used)')
    .option('--pidfile <file>', 'pid file')
    .option('-d, --daemon', 'detach into the background')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  try {
    prog.parse(argv, { from: 'user' })
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode
    return code === 0 ? 0 : 1
  }
  const opts = prog.opts() as MogstoredFlags & { daemon?: boolean }
  const cfg = loadMogstoredConfig(opts)
  // Not inside the docroot: everything there is served over HTTP.
  const pidFile = cfg.pidFile ?? path.join(process.env.TMPDIR ?? '/tmp', `mogstored-${cfg.httpPort}.pid`)
  return runDaemon(
    {
      name: 'mogstored',
      pidFile,
      ...metricsFromFile(opts.config ?? '/etc/mogilefs/mogstored.conf'),
      logFile: pidFile.replace(/\.pid$/, '') + '.log',
      run: async () => {
        const stores = new DevStores(cfg.docroot)
        const app = await buildMogstoredHttp({ stores, maxConns: cfg.maxConns })
        await app.listen({ host: cfg.httpHost, port: cfg.httpPort })
        const mgmt = createMgmtServer({ host: cfg.mgmtHost, port: cfg.mgmtPort, docroot: cfg.docroot })
        try {
          await mgmt.listen()
        } catch (e) {
          await app.close()
          throw e
        }
        const stopUsage = startUsageWriter(cfg.docroot, cfg.usageInterval)
        log.info({ http: `${cfg.httpHost}:${cfg.httpPort}`, mgmt: `${cfg.mgmtHost}:${cfg.mgmtPort}`, docroot: cfg.docroot }, 'mogstored listening')
        return {
          close: async () => {
            stopUsage()
            await Promise.all([app.close(), mgmt.close()])
          },
        }
      },
    },
    opts.daemon ? 'start' : 'foreground',
  )
}
