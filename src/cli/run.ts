/**
 * Shared entry for every bin/ script: run `main`, print unexpected errors as one
 * line (no stack unless TANDEM_DEBUG=1), and exit with its code once stdout has
 * drained (so piped output is never cut short).
 */
export function runMain(main: (argv: string[]) => Promise<number | void>): void {
  main(process.argv.slice(2))
    .then((code) => finish(code ?? 0))
    .catch((e: unknown) => {
      const err = e as Error
      console.error(process.env.TANDEM_DEBUG ? err.stack : `error: ${err?.message ?? String(e)}`)
      finish(1)
    })
}

function finish(code: number): void {
  process.exitCode = code
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
}
