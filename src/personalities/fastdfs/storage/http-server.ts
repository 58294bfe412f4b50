/**
 * The storage daemon's built-in HTTP downloads (what nginx + fastdfs-nginx-module
 * do): started by storaged.ts when storage.conf has `http.server_port`, serving
 * http/app.ts on bind_addr. Files not here yet are fetched from holders in
 * holders.ts order (the source storage, decoded from the name, first, then
 * the other ACTIVE group members; the same order as protocol reads), all
 * assumed to use the same http.server_port (the trackers do not tell us
 * their peers' HTTP ports; V6 storages have none).
 */
import type { FastifyInstance } from 'fastify'
import { logger } from '../../../log.js'
import { buildFdfsHttpApp } from '../http/app.js'
import { tryDecodeFileName } from '../file-id.js'
import { openRemote, statRemote } from './sync-source.js'
import { readCandidates } from './holders.js'
import type { FileStore } from './store.js'
import type { StorageConfig } from './storage-conf.js'
import type { StorageBrief } from './tracker-reporter.js'

const log = logger('fastdfs.storage.http')

export interface HttpDeps {
  cfg: StorageConfig
  store: FileStore
  /** Current group membership (ourselves included). */
  peers(): StorageBrief[]
  /** Our wire identity (storage id or ip) so we never list ourselves as a holder. */
  self(): string
}

/** `http://ip:port` of members that may hold `remote`: its source first. Absent name → []. */
export function holdersOf(remote: string, d: HttpDeps): string[] {
  const f = tryDecodeFileName(remote)
  if (!f) return []
  const host = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip)
  return [...new Set(readCandidates(f, d.peers(), d.self()).map((p) => `http://${host(p.ip)}:${d.cfg.httpPort}`))]
}

/** Listen on http.server_port; resolves with the running fastify instance (close() stops it). */
export async function startHttp(d: HttpDeps): Promise<FastifyInstance> {
  const app = buildFdfsHttpApp({
    source: {
      group: d.cfg.groupName,
      open: (r, range) => openRemote(d.store, r, range, false),
      stat: (r) => statRemote(d.store, r, false),
      holders: async (r) => holdersOf(r, d),
    },
    antiSteal: d.cfg.antiSteal,
  })
  const host = d.cfg.bindAddr && d.cfg.bindAddr !== '' ? d.cfg.bindAddr : '0.0.0.0'
  await app.listen({ host, port: d.cfg.httpPort })
  log.info({ host, port: d.cfg.httpPort, antiSteal: !!d.cfg.antiSteal }, 'HTTP downloads serving')
  return app
}
