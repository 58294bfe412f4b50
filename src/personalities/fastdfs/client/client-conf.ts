/**
 * client.conf as the V6.16.1 client tools read it: base_path, repeated
 * tracker_server, connect_timeout, network_timeout (seconds), use_storage_id.
 * Other keys are accepted and ignored. Used by our fdfs_* tools, the compare
 * harness and tests. Throws ConfError (file:line:key) on bad values.
 */
import { ConfFile, ConfError, parseHostPort } from '../../../config/conf-file.js'
import { DEFAULT_TRACKER_PORT } from '../protocol/constants.js'
import { loadStorageIds, type StorageIdEntry } from '../storage-ids.js'

export interface HostPort {
  host: string
  port: number
}

export interface ClientConf {
  file: string
  basePath: string
  trackers: HostPort[]
  /** Seconds to wait for a TCP connect (default 5 as the sample conf). */
  connectTimeout: number
  /** Seconds of silence on an established connection before giving up (default 60). */
  networkTimeout: number
  useStorageId: boolean
  /** storage_ids.conf entries when use_storage_id is on and the file is readable, else []. */
  storageIds: StorageIdEntry[]
}

/** Build from parsed conf text (tests) or a loaded file. */
export function clientConfFrom(c: ConfFile): ClientConf {
  const list = c.all('tracker_server')
  if (list.length === 0) throw new ConfError(`${c.file}: item "tracker_server" not found`)
  const trackers = list.map((v) => {
    try {
      return parseHostPort(v.trim(), DEFAULT_TRACKER_PORT)
    } catch (e) {
      return c.fail('tracker_server', (e as Error).message)
    }
  })
  const useStorageId = c.bool('use_storage_id', false)
  let storageIds: StorageIdEntry[] = []
  if (useStorageId) {
    // Only used to show a source IP for id-named files; a missing file is not fatal for the tools.
    try {
      storageIds = loadStorageIds(c.path('storage_ids_filename', 'storage_ids.conf') as string)
    } catch {
      storageIds = []
    }
  }
  return {
    file: c.file,
    basePath: c.str('base_path', '/tmp'),
    trackers,
    connectTimeout: c.seconds('connect_timeout', 5),
    networkTimeout: c.seconds('network_timeout', 60),
    useStorageId,
    storageIds,
  }
}

/** Load client.conf; ConfError when missing or invalid. */
export function loadClientConf(file: string): ClientConf {
  return clientConfFrom(ConfFile.load(file))
}

/** A conf for code that has tracker addresses but no file (compare harness, tests). */
export function clientConfFor(trackers: HostPort[], opts: Partial<ClientConf> = {}): ClientConf {
  return { file: '<inline>', basePath: '/tmp', connectTimeout: 5, networkTimeout: 60, useStorageId: false, storageIds: [], ...opts, trackers }
}
