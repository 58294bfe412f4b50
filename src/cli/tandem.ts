/**
 * `tandem`: the project's own front door. `tandem up` runs the all-in-one local
 * deployment; `tandem compare` runs the benchmark harness (compare/).
 */
import { Command } from 'commander'
import { up } from './tandem-up.js'

export async function main(argv: string[]): Promise<number> {
  let code = 0
  const program = new Command('tandem').description('tandemfs: FastDFS- and MogileFS-compatible file store').exitOverride()
  program
    .command('up')
    .description('start FastDFS (tracker + 2 storages) and MogileFS (tracker + 2 mogstored) on loopback')
    .option('--dir <dir>', 'data directory', '.tandem-data')
    .option('--mysql <url>', 'MogileFS metadata in MySQL, e.g. mysql://root@127.0.0.1:3306/tandem (default: SQLite)')
    .option('--any-ports', 'use free ports instead of the standard ones')
    .option('--only <list>', 'fastdfs, mogilefs or both (comma-separated)')
    .action(async (o) => {
      code = await up({ dir: o.dir, mysql: o.mysql, anyPorts: o.anyPorts, only: o.only })
    })
  program
    .command('compare')
    .description('run the compare harness (see README.md, "Compare")')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { compareMain } = await import('../compare/main.js')
      code = await compareMain(args)
    })
  program
    .command('sync-cost')
    .description('measure what FastDFS binlog push sync costs foreground uploads (rounds with the peer running vs stopped)')
    .option('--seconds <n>', 'seconds per round and mode', '8')
    .option('--rounds <n>', 'rounds (each runs both modes)', '3')
    .option('--clients <n>', 'concurrent uploaders', '8')
    .option('--size <bytes>', 'upload size', '4096')
    .option('--data-dir <dir>', 'parent directory for the cluster data (default: the OS temp dir)')
    .option('--pin', 'emulate two machines: A and the client on CPU 0, B and the tracker on CPU 1')
    .action(async (o) => {
      const { runSyncCost, formatSyncCost } = await import('../compare/sync-cost.js')
      const { stopClustersOnSignal } = await import('../deploy/local-cluster.js')
      stopClustersOnSignal()
      const opts = { seconds: Number(o.seconds), rounds: Number(o.rounds), clients: Number(o.clients), size: Number(o.size), dataDir: o.dataDir }
      for (const [k, v] of Object.entries(opts)) if (k !== 'dataDir' && !(Number.isInteger(v) && (v as number) > 0)) throw new Error(`--${k} must be a positive integer`)
      const tty = process.stderr.isTTY
      const res = await runSyncCost({ ...opts, pin: o.pin === true, progress: (m) => process.stderr.write(tty ? `\r\x1b[K${m}` : `${m}\n`) })
      if (tty) process.stderr.write('\n')
      process.stdout.write(formatSyncCost(res, { ...opts, pin: o.pin === true }, `tandem ${argv.join(' ')}`))
    })
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (e) {
    const ce = e as { exitCode?: number; code?: string }
    // Commander has already printed its own errors; anything else (a failed deploy, a bad
    // data dir) is rethrown so runMain prints it instead of exiting 1 in silence.
    if (typeof ce.code !== 'string' || !ce.code.startsWith('commander.')) throw e
    if (ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version') return 0
    return ce.exitCode ?? 1
  }
  return code
}
