/**
 * Storage-node URL layout (spec §2.2): /dev<devid>/<b>/<mmm>/<ttt>/<fid10>.fid.
 * Used by create_open, create_close (path check), get_paths, replication, delete.
 */
import type { HostRow } from '../db/types.js'

/** Path part for a fid on a device, e.g. fid 123 dev 1 → `/dev1/0/000/000/0000000123.fid`. */
export function fidPath(devid: number, fid: number): string {
  const padded = String(fid).padStart(10, '0')
  return `/dev${devid}/${padded[0]}/${padded.slice(1, 4)}/${padded.slice(4, 7)}/${padded}.fid`
}

/** Base URL for writes/HEADs (http_port) or for client GETs (http_get_port when set). */
export function hostBase(h: HostRow, forGet = false, alt = false): string {
  const port = forGet && h.http_get_port ? h.http_get_port : h.http_port
  const ip = alt && h.altip ? h.altip : h.hostip
  return `http://${ip}:${port}`
}

/** Full URL for a fid on a device of host `h`. */
export function fidUrl(h: HostRow, devid: number, fid: number, forGet = false, alt = false): string {
  return hostBase(h, forGet, alt) + fidPath(devid, fid)
}
