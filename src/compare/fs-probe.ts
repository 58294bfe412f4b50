/**
 * Filesystem guard rails for benchmark runs.
 *
 * Why this exists: on ext4 without a journal (this machine's root filesystem),
 * the inode allocator skips every inode freed in the last 60–300 s
 * (`recently_deleted()` in fs/ext4/ialloc.c), scanning them one by one on each
 * create. New directories go to their parent's block group, so right after a
 * test run or an earlier compare run deleted tens of thousands of files under
 * /tmp, every file created under /tmp costs ~0.5–2 ms of kernel CPU instead of
 * ~15 µs, and any file-creating workload measured there is mostly measuring
 * that. Real FastDFS/MogileFS deployed elsewhere do not pay it, so a
 * comparison would be skewed.
 *
 * `spreadInodes` marks the run's data directory as a top of hierarchy
 * (`chattr +T`), so ext4's Orlov allocator places each daemon's directory in
 * the least-used block group instead of next to /tmp's. `probeCreateMicros`
 * measures what a create costs in the directory, so the report can say when a
 * run was skewed anyway.
 */
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'

/** Best effort `chattr +T dir`; false when chattr is missing or the filesystem does not support it. */
export function spreadInodes(dir: string): boolean {
  try {
    const r = spawnSync('chattr', ['+T', dir], { stdio: 'ignore', timeout: 5_000 })
    return r.status === 0
  } catch {
    return false
  }
}

/**
 * Mean microseconds to create, write (4 KiB), close and rename one file in a
 * fresh subdirectory of `dir` (n files, left in place: deleting them would
 * itself slow later creates).
 */
export function probeCreateMicros(dir: string, n = 300): number {
  const d = fs.mkdtempSync(path.join(dir, 'fs-probe-'))
  const buf = Buffer.alloc(4096, 1)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const tmp = path.join(d, `t${i}`)
    const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644)
    fs.writeSync(fd, buf)
    fs.closeSync(fd)
    fs.renameSync(tmp, path.join(d, `f${i}`))
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / n
}

/** Above this mean create cost the run is flagged: a quiet ext4 does it in 15–60 µs here. */
export const SLOW_CREATE_MICROS = 200

/**
 * CPU milliseconds per MiB to write `mib` MiB into a new file in `dir` (4 MiB writes, no fsync;
 * the file is removed afterwards). Why: in a VM whose host lazily backs guest memory (and takes
 * freed memory back), every page-cache page that lands on memory the guest has not touched lately
 * costs an EPT fault: seen here at ~4 ms per MiB against ~0.3 ms on warm memory. Large-file cells
 * then mostly measure that, and the system that writes more bytes inside a rep pays more of it.
 */
export function probeWriteMsPerMiB(dir: string, mib = 32): number {
  const file = path.join(dir, `write-probe-${process.pid}`)
  const buf = Buffer.alloc(4 * 1024 * 1024, 1)
  const fd = fs.openSync(file, 'w')
  const c0 = process.cpuUsage()
  try {
    for (let i = 0; i < mib / 4; i++) {
      let off = 0
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off)
    }
  } finally {
    fs.closeSync(fd)
  }
  const c = process.cpuUsage(c0)
  fs.rmSync(file, { force: true })
  return (c.user + c.system) / 1000 / mib
}

/** Above this the report warns that large-file cells measure page-cache allocation (a warm page cache writes a MiB in ~0.3 ms). */
export const SLOW_WRITE_MS_PER_MIB = 1.5
