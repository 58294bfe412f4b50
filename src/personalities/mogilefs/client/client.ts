/**
 * MogileFS client (the MogileFS::Client subset the tools and library users
 * need): store, fetch, delete, rename, file_info, file_debug, get_paths,
 * list_keys / foreachKey, updateclass. Bodies stream end to end.
 */
import type { Readable, Writable } from 'node:stream'
import { Backend, type BackendOptions } from './backend.js'
import { CLIENT_ERRORS as CE, MogileError, isTrackerError } from './errors.js'
import { httpGetTo, httpPut } from './http-transfer.js'

export interface ClientOptions extends BackendOptions {
  domain: string
}

export interface StoreOptions {
  /** Class name; ''/undefined = the domain's default class. */
  class?: string
  /** Size when known up front: sent to create_open (space check) and as Content-Length. */
  size?: number
  /** `MD5:<hex>` / `SHA-1:<hex>` passed to create_close; with `checksumVerify` the tracker verifies it. */
  checksum?: string
  checksumVerify?: boolean
  onProgress?: (bytes: number) => void
}

/** A body stream, or a factory giving a fresh stream per attempt (lets store() fall back to the next destination). */
export type BodySource = AsyncIterable<Uint8Array> | Readable | (() => AsyncIterable<Uint8Array> | Readable)

export interface StoreResult {
  fid: number
  devid: number
  path: string
  size: number
}

export class MogileFSClient {
  readonly backend: Backend
  readonly domain: string

  constructor(o: ClientOptions) {
    this.backend = new Backend(o)
    this.domain = o.domain
  }

  /** Drop the tracker connection. */
  close(): void {
    this.backend.close()
  }

  /**
   * create_open (multi_dest) → streamed PUT to the first destination, falling
   * back to the next ones when the body is a factory or nothing was sent yet (a
   * consumed stream cannot be replayed) → create_close with the real size.
   * Throws MogileError.
   */
  async store(key: string, body: BodySource, o: StoreOptions = {}): Promise<StoreResult> {
    const replayable = typeof body === 'function'
    const open = await this.backend.request('create_open', {
      domain: this.domain,
      class: o.class || undefined,
      key,
      fid: 0,
      multi_dest: 1,
      size: o.size,
    })
    const dests: { devid: number; path: string }[] = []
    const n = Number(open.dev_count ?? 0)
    for (let i = 1; i <= n; i++) dests.push({ devid: Number(open[`devid_${i}`]), path: open[`path_${i}`] })
    if (!n && open.path) dests.push({ devid: Number(open.devid), path: open.path })
    if (!dests.length) throw new MogileError(CE.PROTOCOL, 'create_open returned no destinations')
    let lastErr: Error | undefined
    for (const d of dests) {
      let sent = 0
      try {
        const r = await httpPut(d.path, typeof body === 'function' ? body() : body, o.size, (b) => {
          sent = b
          o.onProgress?.(b)
        })
        if (r.status < 200 || r.status > 299) throw new MogileError(CE.HTTP, `HTTP response ${r.status} from upload to ${d.path}`)
        if (o.size !== undefined && r.bytes !== o.size) throw new MogileError(CE.HTTP, `short body: sent ${r.bytes} of ${o.size} bytes`)
        await this.backend.request('create_close', {
          fid: open.fid,
          devid: d.devid,
          domain: this.domain,
          size: r.bytes,
          key,
          path: d.path,
          checksum: o.checksum,
          checksumverify: o.checksumVerify ? 1 : undefined,
        })
        return { fid: Number(open.fid), devid: d.devid, path: d.path, size: r.bytes }
      } catch (e) {
        lastErr = e as Error
        // Tracker errors from create_close are final; so is anything after body bytes went out.
        if (e instanceof MogileError && e.fromTracker) throw e
        if (sent > 0 && !replayable) break
      }
    }
    throw lastErr instanceof MogileError ? lastErr : new MogileError(CE.HTTP, `unable to write to any allocated storage node: ${lastErr?.message}`)
  }

  /** get_paths → the URLs (may be empty). `noverify` skips the tracker's HEAD check. */
  async getPaths(key: string, o: { noverify?: boolean; pathcount?: number; zone?: string } = {}): Promise<string[]> {
    const r = await this.backend.request('get_paths', {
      domain: this.domain,
      key,
      noverify: o.noverify ? 1 : 0,
      zone: o.zone,
      pathcount: o.pathcount,
    })
    const out: string[] = []
    for (let i = 1; i <= Number(r.paths ?? 0); i++) if (r[`path${i}`]) out.push(r[`path${i}`])
    return out
  }

  /**
   * Stream the file into `openOut()` (called once per attempt, so a file target
   * can be truncated before a retry), trying each path in turn. Returns bytes;
   * throws the tracker error, or CE.NO_PATHS / CE.HTTP with every failure listed.
   */
  async fetch(key: string, openOut: () => Promise<Writable> | Writable, onProgress?: (n: number) => void): Promise<number> {
    const paths = await this.getPaths(key, { noverify: true })
    const errors: string[] = []
    for (const p of paths) {
      const out = await openOut()
      try {
        return await httpGetTo(p, out, onProgress)
      } catch (e) {
        errors.push((e as Error).message)
      }
    }
    if (!paths.length) throw new MogileError(CE.NO_PATHS, 'no paths for key')
    throw new MogileError(CE.HTTP, errors.join('\n'))
  }

  /** delete; like MogileFS::Client, `unknown_key` counts as done unless `strict`. */
  async delete(key: string, strict = false): Promise<void> {
    try {
      await this.backend.request('delete', { domain: this.domain, key })
    } catch (e) {
      if (!strict && isTrackerError(e, 'unknown_key')) return
      throw e
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await this.backend.request('rename', { domain: this.domain, from_key: from, to_key: to })
  }

  async updateClass(key: string, cls: string): Promise<void> {
    await this.backend.request('updateclass', { domain: this.domain, key, class: cls })
  }

  /** file_info: fid, domain, class, key, length, devcount (+devids, checksum). */
  async fileInfo(key: string, devices = false): Promise<Record<string, string>> {
    return this.backend.request('file_info', { domain: this.domain, key, devices: devices ? 1 : undefined })
  }

  /** file_debug by key (in this domain) or by fid. */
  async fileDebug(by: { key?: string; fid?: number }): Promise<Record<string, string>> {
    if (by.fid !== undefined) return this.backend.request('file_debug', { fid: by.fid })
    return this.backend.request('file_debug', { domain: this.domain, key: by.key })
  }

  /** One list_keys page: keys and next_after; `none_match` becomes an empty page. */
  async listKeys(prefix: string, after = '', limit = 1000): Promise<{ keys: string[]; after: string }> {
    try {
      const r = await this.backend.request('list_keys', { domain: this.domain, prefix, after, limit })
      const keys: string[] = []
      for (let i = 1; i <= Number(r.key_count ?? 0); i++) keys.push(r[`key_${i}`])
      return { keys, after: r.next_after ?? '' }
    } catch (e) {
      if (isTrackerError(e, 'none_match')) return { keys: [], after }
      throw e
    }
  }

  /**
   * Every key with `prefix`, in pages of 1000 (as foreach_key). The first
   * page's `none_match` is rethrown so callers can report it (moglistkeys does).
   */
  async *keys(prefix = ''): AsyncGenerator<string> {
    let after = ''
    let first = true
    for (;;) {
      let r: Record<string, string>
      try {
        r = await this.backend.request('list_keys', { limit: 1000, after, domain: this.domain, prefix })
      } catch (e) {
        if (!first && isTrackerError(e, 'none_match')) return
        throw e
      }
      first = false
      const n = Number(r.key_count ?? 0)
      for (let i = 1; i <= n; i++) yield r[`key_${i}`]
      if (n < 1000) return
      after = r[`key_${n}`]
    }
  }
}
