/**
 * The node command-line flags a daemon runs with when one of our launchers starts it:
 * `tandem up` / `tandem compare` (deploy/local-cluster.ts) and the detaching
 * `fdfs_storaged|fdfs_trackerd|mogstored|mogilefsd <conf> start` (server/daemon.ts).
 * A daemon run in the foreground by a supervisor gets what the supervisor's command line
 * gives it (`node --single-threaded-gc bin/fdfs_storaged <conf> --foreground` for the same).
 *
 * `--single-threaded-gc` by default. Why: V8's parallel and concurrent garbage-collection
 * helper threads pay off for large heaps on idle cores; our daemons keep heaps of 10–50 MB
 * and share the cores with each other and with the kernel's network and file work, where the
 * helpers' wakeups and contention cost more than they save. Measured side by side on two
 * cores: 7% less CPU per 4 KiB upload, ~10% more uploads/s at 8 clients, and a backlog of
 * 1 MiB sync records drained ~18% faster. `TANDEM_GC_THREADS=1` keeps V8's defaults;
 * `TANDEM_NODE_FLAGS` (space-separated) adds flags, e.g. `--trace-gc` when profiling.
 * V8 flags cannot be changed once the heap exists (setting this one at run time crashes the
 * next collection), hence flags on the command line.
 */
export function daemonNodeFlags(inherited: readonly string[] = []): string[] {
  const out = [...inherited]
  if (process.env.TANDEM_GC_THREADS !== '1' && !out.includes('--single-threaded-gc')) out.push('--single-threaded-gc')
  for (const f of (process.env.TANDEM_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)) if (!out.includes(f)) out.push(f)
  return out
}
