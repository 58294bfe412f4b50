/**
 * Compare targets over our client libraries: a FastDFS cluster given by its
 * tracker(s), and a MogileFS cluster given by its tracker(s) and domain. The
 * same code measures our personalities and the real systems.
 */
import { Writable } from 'node:stream'
import { FdfsClient, splitFileId } from '../personalities/fastdfs/client/fdfs-client.js'
import { clientConfFor } from '../personalities/fastdfs/client/client-conf.js'
import { queryFileInfo } from '../personalities/fastdfs/client/storage-client.js'
import { MogileFSClient } from '../personalities/mogilefs/client/client.js'
import { MogileFSAdmin } from '../personalities/mogilefs/client/admin.js'
import { parseHostPort } from '../config/conf-file.js'
import { sleep, type Target } from './target.js'

class Sink extends Writable {
  bytes = 0
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.bytes += chunk.length
    cb()
  }
}

export class FastdfsTarget implements Target {
  /** Set for an external cluster: the runner deletes what it uploaded (Target.cleanUp). */
  cleanUp = false
  private readonly client: FdfsClient
  private storages?: Array<{ host: string; port: number }>

  constructor(
    readonly name: string,
    private readonly trackers: string[],
    private readonly pidMap: () => Map<string, number> = () => new Map(),
    private readonly metricUrls: () => string[] = () => [],
  ) {
    this.client = new FdfsClient(clientConfFor(trackers.map((t) => parseHostPort(t, 22122)), { connectTimeout: 5, networkTimeout: 60 }))
  }

  async upload(body: Buffer): Promise<string> {
    return this.client.upload(body, 'bin')
  }

  async download(id: string): Promise<number> {
    const s = new Sink()
    await this.client.download(id, s)
    return s.bytes
  }

  async delete(id: string): Promise<void> {
    await this.client.delete(id)
  }

  /**
   * Polls QUERY_FILE_INFO (silent, no CRC, local only: flags 7) on every storage of the group until
   * two hold the file themselves. Without LOCAL_ONLY our storages would proxy the query to the
   * creator and the probe would measure the proxy, not replication; the real storage ignores bit 4.
   */
  async waitSecondCopy(id: string, timeoutMs: number): Promise<void> {
    const { group, remote } = splitFileId(id)
    if (!this.storages) {
      const list = await this.client.tracker.listStorages(group)
      this.storages = list.map((s) => ({ host: s.ip, port: s.storagePort }))
    }
    const deadline = Date.now() + timeoutMs
    for (;;) {
      let have = 0
      for (const s of this.storages) {
        const ok = await this.client.pool.with({ ...s }, (c) => queryFileInfo(c, group, remote, 7)).then(
          () => true,
          () => false,
        )
        if (ok) have++
      }
      if (have >= 2) return
      if (Date.now() > deadline) throw new Error(`no second copy of ${id} after ${timeoutMs} ms`)
      await sleep(1)
    }
  }

  pids(): Map<string, number> {
    return this.pidMap()
  }

  metricsUrls(): string[] {
    return this.metricUrls()
  }

  /** The cluster's listening addresses (trackers, then every storage of every group), named like our daemons. */
  async daemonAddresses(): Promise<Array<{ name: string; host: string; port: number }>> {
    const out = this.trackers.map((t, i) => {
      const a = parseHostPort(t, 22122)
      return { name: this.trackers.length > 1 ? `fdfs_trackerd${i + 1}` : 'fdfs_trackerd', host: a.host, port: a.port }
    })
    let n = 0
    for (const g of await this.client.tracker.listGroups()) {
      for (const st of await this.client.tracker.listStorages(g.groupName)) out.push({ name: `fdfs_storaged${++n}`, host: st.ip, port: st.storagePort })
    }
    return out
  }

  async close(): Promise<void> {
    this.client.close()
  }
}

export class MogilefsTarget implements Target {
  /** Set for an external cluster: the runner deletes what it uploaded (Target.cleanUp). */
  cleanUp = false
  private readonly free: MogileFSClient[] = []
  private readonly all: MogileFSClient[] = []
  private seq = 0
  private readonly prefix = `cmp-${process.pid}-${Date.now().toString(36)}-`

  constructor(
    readonly name: string,
    private readonly trackers: string[],
    private readonly domain: string,
    private readonly klass: string,
    private readonly pidMap: () => Map<string, number> = () => new Map(),
    private readonly metricUrls: () => string[] = () => [],
  ) {}

  metricsUrls(): string[] {
    return this.metricUrls()
  }

  /** One client per concurrent operation: a tracker connection serves one request at a time. */
  private async with<T>(fn: (c: MogileFSClient) => Promise<T>): Promise<T> {
    let c = this.free.pop()
    if (!c) {
      c = new MogileFSClient({ trackers: this.trackers, domain: this.domain, timeout: 30 })
      this.all.push(c)
    }
    try {
      return await fn(c)
    } finally {
      this.free.push(c)
    }
  }

  async upload(body: Buffer): Promise<string> {
    const key = `${this.prefix}${this.seq++}`
    await this.with((c) => c.store(key, () => (async function* () { yield body })(), { class: this.klass, size: body.length }))
    return key
  }

  async download(key: string): Promise<number> {
    return this.with(async (c) => {
      const s = new Sink()
      await c.fetch(key, () => s)
      return s.bytes
    })
  }

  async delete(key: string): Promise<void> {
    await this.with((c) => c.delete(key, true))
  }

  /** Polls file_info until devcount >= 2 (the tracker records a copy only once it is complete). */
  async waitSecondCopy(key: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const info = await this.with((c) => c.fileInfo(key))
      if (Number(info.devcount) >= 2) return
      if (Date.now() > deadline) throw new Error(`no second copy of ${key} after ${timeoutMs} ms`)
      await sleep(1)
    }
  }

  pids(): Map<string, number> {
    return this.pidMap()
  }

  /** The cluster's listening addresses (trackers, then each host's mogstored HTTP port), named like our daemons. */
  async daemonAddresses(): Promise<Array<{ name: string; host: string; port: number }>> {
    const out = this.trackers.map((t, i) => {
      const a = parseHostPort(t, 7001)
      return { name: this.trackers.length > 1 ? `mogilefsd${i + 1}` : 'mogilefsd', host: a.host, port: a.port }
    })
    const admin = new MogileFSAdmin({ trackers: this.trackers })
    try {
      const hosts = (await admin.getHosts()).sort((a, b) => a.hostid - b.hostid)
      hosts.forEach((h, i) => out.push({ name: `mogstored${i + 1}`, host: h.hostip, port: Number(h.http_port) }))
    } finally {
      admin.close()
    }
    return out
  }

  async close(): Promise<void> {
    for (const c of this.all) c.close()
  }
}
