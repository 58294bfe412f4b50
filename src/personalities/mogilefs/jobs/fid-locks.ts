/**
 * One in-process lock per fid shared by replicate, delete, fsck and reaper, so
 * a fid is never copied and deleted at the same time inside this tracker
 * (other trackers are kept apart by the queue leases).
 */
import { KeyedMutex } from '../../../engine/util/keyed-mutex.js'

export const fidLocks = new KeyedMutex()
