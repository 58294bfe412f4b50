/**
 * Finds the local processes behind an external cluster's listening addresses
 * (`--fastdfs-tracker` / `--mogilefs-tracker` on this machine), so the compare
 * report shows the real daemons' CPU next to ours, and CPU per operation can be
 * compared, not only throughput.
 *
 * Called by compare/main.ts once the external targets have listed their
 * daemons. Linux /proc only. Absent (`undefined` / left out of the map) when the
 * address is not on this machine, nothing listens there, or the socket belongs
 * to a process we may not inspect (another user's, without root).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** One line of /proc/net/tcp{,6} in LISTEN state: local address and socket inode. */
interface Listener {
  ip: string
  port: number
  inode: string
}

/** `0100007F` → `127.0.0.1` (the kernel prints each 32-bit word in host byte order; x86 is little-endian). */
function ipv4FromHex(h: string): string {
  const n = Number.parseInt(h, 16)
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.')
}

function listeners(): Listener[] {
  const out: Listener[] = []
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(f, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/)
      if (c.length < 10 || c[3] !== '0A') continue // 0A = TCP_LISTEN
      const [ipHex, portHex] = c[1].split(':')
      let ip: string
      if (ipHex.length === 8) ip = ipv4FromHex(ipHex)
      else if (/^0{32}$/.test(ipHex)) ip = '::'
      else if (ipHex.startsWith('0000000000000000FFFF0000')) ip = ipv4FromHex(ipHex.slice(24)) // v4-mapped
      else ip = 'v6'
      out.push({ ip, port: Number.parseInt(portHex, 16), inode: c[9] })
    }
  }
  return out
}

/** pid → parent pid for every process we can see. */
function parents(): Map<number, number> {
  const m = new Map<number, number>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8')
      m.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // the process ended while we looked
    }
  }
  return m
}

/**
 * The pid of the process listening on `host:port` here, or undefined. A socket
 * shared by forked workers (a pre-forking server) is held by several processes:
 * the one whose parent does not hold it is the server's root, which is what
 * `sampleTreeCpu` wants.
 */
export function listeningPid(host: string, port: number): number | undefined {
  const inodes = new Set(
    listeners()
      .filter((l) => l.port === port && (l.ip === host || l.ip === '0.0.0.0' || l.ip === '::'))
      .map((l) => l.inode),
  )
  if (!inodes.size) return undefined
  const holders: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${d}/fd`)
    } catch {
      continue // not ours to read, or gone
    }
    for (const fd of fds) {
      let link: string
      try {
        link = readlinkSync(`/proc/${d}/fd/${fd}`)
      } catch {
        continue
      }
      if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) {
        holders.push(Number(d))
        break
      }
    }
  }
  if (holders.length <= 1) return holders[0]
  const pp = parents()
  const set = new Set(holders)
  return holders.find((p) => !set.has(pp.get(p) ?? 0)) ?? holders[0]
}

/**
 * Names → pids for the external daemons at `addrs` that run on this machine
 * (the others are left out). Names follow ours (fdfs_storaged1, mogstored2 ...)
 * so a report lists both systems the same way.
 */
export function localPids(addrs: Array<{ name: string; host: string; port: number }>): Map<string, number> {
  const m = new Map<string, number>()
  for (const a of addrs) {
    const pid = listeningPid(a.host, a.port)
    if (pid !== undefined) m.set(a.name, pid)
  }
  return m
}
