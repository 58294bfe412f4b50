/**
 * High-level FastDFS client: each operation asks the tracker which storage to
 * use (101/104 upload, 102 download/get-meta/file-info, 103 delete/set-meta/
 * append/modify/truncate/regenerate) and then runs the storage command, as the
 * C client does. Connections are pooled and persistent.
 *
 * Used by our fdfs_* tools, the compare harness and tests. File ids are
 * `group/M00/...`; every failure is an FdfsError carrying the C errno.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { Writable } from 'node:stream'
import { tryDecodeFileName } from '../file-id.js'
import type { MetaPair } from '../metadata.js'
import type { ClientConf, HostPort } from './client-conf.js'
import { ConnectionPool } from './connection.js'
import { CLIENT_ERROR, FdfsError } from './errors.js'
import * as SC from './storage-client.js'
import { TrackerClient, type StorageAddr } from './tracker-client.js'

export interface UploadOptions {
  /** Upload into this group (QUERY_STORE_WITH_GROUP). */
  group?: string
  /** Skip the tracker and upload to this storage (fdfs_upload_file's 3rd argument). */
  storage?: HostPort
  /** Store path index to request (-1/255 = let the storage choose). */
  storePathIndex?: number
  appender?: boolean
  meta?: readonly MetaPair[]
  onProgress?: SC.Progress
}

/** Split a file id into group and remote filename; EINVAL-style FdfsError when malformed. */
export function splitFileId(fileId: string): { group: string; remote: string } {
  const i = fileId.indexOf('/')
  if (i <= 0 || i === fileId.length - 1 || i > 16) throw new FdfsError(CLIENT_ERROR.ARGUMENT, 22, `invalid file id: ${fileId}`)
  return { group: fileId.slice(0, i), remote: fileId.slice(i + 1) }
}

/** Extension the C client takes from a local filename: after the last '.', at most 6 chars, else none. */
export function extOf(localName: string): string {
  const base = path.basename(localName)
  const dot = base.lastIndexOf('.')
  if (dot < 0) return ''
  const ext = base.slice(dot + 1)
  return ext.length <= 6 ? ext : ''
}

/** A local file as an upload body (streamed, size from stat). */
export async function fileBody(file: string): Promise<SC.Body> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new FdfsError(CLIENT_ERROR.ARGUMENT, e.code === 'ENOENT' ? 2 : 5, `${file}: ${e.message}`)
  })
  if (!st.isFile()) throw new FdfsError(CLIENT_ERROR.ARGUMENT, 22, `${file} is not a regular file`)
  return { size: st.size, stream: createReadStream(file, { highWaterMark: 256 * 1024 }) }
}

export class FdfsClient {
  readonly pool: ConnectionPool
  readonly tracker: TrackerClient

  constructor(readonly conf: ClientConf) {
    this.pool = new ConnectionPool({ connectMs: conf.connectTimeout * 1000, networkMs: conf.networkTimeout * 1000 })
    this.tracker = new TrackerClient(conf.trackers, this.pool)
  }

  /** Upload a local file path or a body; returns the file id. With `meta`, sets it (O) and deletes the file if that fails. */
  async upload(src: string | SC.Body, ext?: string, o: UploadOptions = {}): Promise<string> {
    const body = typeof src === 'string' ? await fileBody(src) : src
    const e = ext ?? (typeof src === 'string' ? extOf(src) : '')
    let target: StorageAddr
    if (o.storage) target = { ...o.storage, group: '', storePathIndex: o.storePathIndex ?? -1 }
    else target = await this.tracker.queryStore(o.group)
    const idx = o.storePathIndex ?? target.storePathIndex ?? -1
    return this.pool.with(target, async (c) => {
      const r = await SC.uploadFile(c, idx, e, body, o.appender === true, o.onProgress)
      if (o.meta && o.meta.length) {
        try {
          await SC.setMetadata(c, r.group, r.remote, o.meta, 'O')
        } catch (err) {
          await SC.deleteFile(c, r.group, r.remote).catch(() => {})
          throw err
        }
      }
      return `${r.group}/${r.remote}`
    })
  }

  /** Upload a slave file of `masterId` with `prefix` (e.g. `_big`). */
  async uploadSlave(src: string | SC.Body, masterId: string, prefix: string, ext?: string, meta?: readonly MetaPair[]): Promise<string> {
    const body = typeof src === 'string' ? await fileBody(src) : src
    const e = ext ?? (typeof src === 'string' ? extOf(src) : '')
    const { group, remote } = splitFileId(masterId)
    const target = await this.tracker.queryUpdate(group, remote)
    return this.pool.with(target, async (c) => {
      const r = await SC.uploadSlave(c, remote, prefix, e, body)
      if (meta && meta.length) await SC.setMetadata(c, r.group, r.remote, meta, 'O')
      return `${r.group}/${r.remote}`
    })
  }

  /** Stream `length` bytes (0 = all) from `offset` of a file into `sink`; returns bytes written. */
  async download(fileId: string, sink: Writable, offset = 0, length = 0, onProgress?: SC.Progress): Promise<number> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryFetch(group, remote)
    return this.pool.with(s, (c) => SC.downloadFile(c, group, remote, offset, length, sink, onProgress))
  }

  /**
   * Download into a local file, written to a temp name and renamed so a failed
   * transfer never leaves a truncated file at `local`.
   */
  async downloadToFile(fileId: string, local: string, offset = 0, length = 0, onProgress?: SC.Progress): Promise<number> {
    const existing = await stat(local).catch(() => undefined)
    if (existing && !existing.isFile()) {
      // /dev/null, a FIFO, a tty: write straight into it (never rename over a device).
      const dev = createWriteStream(local, { flags: 'w' })
      try {
        const n = await this.download(fileId, dev, offset, length, onProgress)
        await new Promise<void>((resolve, reject) => dev.end((e?: Error | null) => (e ? reject(e) : resolve())))
        return n
      } catch (e) {
        dev.destroy()
        throw e
      }
    }
    const tmp = `${local}.fdfs-tmp-${process.pid}`
    const out = createWriteStream(tmp)
    try {
      const n = await this.download(fileId, out, offset, length, onProgress)
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
      await rename(tmp, local)
      return n
    } catch (e) {
      out.destroy()
      await unlink(tmp).catch(() => {})
      throw e
    }
  }

  async delete(fileId: string): Promise<void> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryUpdate(group, remote)
    await this.pool.with(s, (c) => SC.deleteFile(c, group, remote))
  }

  async setMetadata(fileId: string, meta: readonly MetaPair[], flag: 'O' | 'M'): Promise<StorageAddr> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryUpdate(group, remote)
    await this.pool.with(s, (c) => SC.setMetadata(c, group, remote, meta, flag))
    return s
  }

  async getMetadata(fileId: string): Promise<{ storage: StorageAddr; meta: MetaPair[] }> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryFetch(group, remote)
    const meta = await this.pool.with(s, (c) => SC.getMetadata(c, group, remote))
    return { storage: s, meta }
  }

  /** QUERY_FILE_INFO (22) on the storage the tracker picks for reads. */
  async queryFileInfo(fileId: string, flags = 0): Promise<SC.FileInfo> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryFetch(group, remote)
    return this.pool.with(s, (c) => SC.queryFileInfo(c, group, remote, flags))
  }

  /** Append a local file or body to an appender file. */
  async append(fileId: string, src: string | SC.Body, onProgress?: SC.Progress): Promise<void> {
    const body = typeof src === 'string' ? await fileBody(src) : src
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryUpdate(group, remote)
    await this.pool.with(s, (c) => SC.appendFile(c, remote, body, onProgress))
  }

  async modify(fileId: string, offset: number, src: string | SC.Body): Promise<void> {
    const body = typeof src === 'string' ? await fileBody(src) : src
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryUpdate(group, remote)
    await this.pool.with(s, (c) => SC.modifyFile(c, remote, offset, body))
  }

  async truncate(fileId: string, newSize: number): Promise<void> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryUpdate(group, remote)
    await this.pool.with(s, (c) => SC.truncateFile(c, remote, newSize))
  }

  /** Rename an appender file to a normal file name; returns the new file id. */
  async regenerateAppenderName(fileId: string): Promise<string> {
    const { group, remote } = splitFileId(fileId)
    const s = await this.tracker.queryUpdate(group, remote)
    const r = await this.pool.with(s, (c) => SC.regenerateAppenderName(c, remote))
    return `${r.group}/${r.remote}`
  }

  /** Close pooled connections (QUIT). */
  close(): void {
    this.pool.close()
  }
}

/** What fdfs_file_info prints, decoded locally for normal files (no server contact). */
export interface LocalFileInfo {
  type: 'normal' | 'slave' | 'appender'
  sourceId: number
  sourceIp: string
  createTimestamp: number
  size: number
  crc32: number
}

/** Decode a file id's name like fdfs_get_file_info (undefined when the name cannot be decoded). */
export function decodeLocal(fileId: string): LocalFileInfo | undefined {
  const { remote } = splitFileId(fileId)
  const d = tryDecodeFileName(remote)
  if (!d) return undefined
  return {
    type: d.appender ? 'appender' : d.slave ? 'slave' : 'normal',
    sourceId: d.sourceId ?? 0,
    sourceIp: d.sourceIp ?? '',
    createTimestamp: d.timestamp,
    size: d.size,
    crc32: d.crc32 | 0,
  }
}
