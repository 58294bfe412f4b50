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
    .description('run the compare harness (see compare/README.md)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { compareMain } = await import('../compare/main.js')
      code = await compareMain(args)
    })
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (e) {
    const ce = e as { exitCode?: number; code?: string }
    if (ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version') return 0
    return ce.exitCode ?? 1
  }
  return code
}
