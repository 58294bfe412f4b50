/** Placeholder wired by `tandem compare`; replaced by the harness runner. */
export async function compareMain(_args: string[]): Promise<number> {
  console.error('compare: not implemented yet')
  return 1
}
