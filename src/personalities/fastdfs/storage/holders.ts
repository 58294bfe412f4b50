/**
 * Which members of our group may hold a file this storage lacks, in the order
 * to ask them (issue 4 item 3): the storage that created it (decoded from the
 * name) first, then every other ACTIVE member. A creator the trackers report
 * OFFLINE goes last instead of first (it is probably down: asking it first
 * would cost a connect timeout on every read), but is still asked, since the
 * trackers' view may be a heartbeat old.
 *
 * Never listed: ourselves, members that left the group (DELETED, IP_CHANGED),
 * and non-creators that are not ACTIVE (a member still bootstrapping, or
 * offline, is no better a holder than we are).
 *
 * Called by peer-proxy.ts (protocol reads) and http-server.ts (HTTP reads).
 */
import { STORAGE_STATUS as S } from '../protocol/constants.js'
import type { DecodedFileName } from '../file-id.js'
import type { StorageBrief } from './tracker-reporter.js'

/** Wire identity of a member as the trackers list it (storage id, else ip). */
const wireId = (p: StorageBrief) => p.id || p.ip

/**
 * Candidates for `f` among `peers` (the group membership from the trackers,
 * ourselves included), `self` being our wire identity. Empty when nobody but
 * us could have it.
 */
export function readCandidates(f: Pick<DecodedFileName, 'sourceId' | 'sourceIp'>, peers: StorageBrief[], self: string): StorageBrief[] {
  const isCreator = (p: StorageBrief) => (f.sourceId !== undefined ? p.id === String(f.sourceId) : p.ip === f.sourceIp)
  const usable = peers.filter((p) => p.ip && p.port && wireId(p) !== self && p.status !== S.DELETED && p.status !== S.IP_CHANGED)
  const creator = usable.find(isCreator)
  const others = usable.filter((p) => p !== creator && p.status === S.ACTIVE)
  const out = !creator ? others : creator.status === S.OFFLINE ? [...others, creator] : [creator, ...others]
  const seen = new Set<string>()
  return out.filter((p) => {
    const k = `${p.ip}:${p.port}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
