/**
 * Maps mogstored URL paths onto engine blob stores: one LocalBlobStore per
 * `dev<N>` directory under the docroot (key = the path below `dev<N>`, e.g.
 * `0/000/000/0000000123.fid`), plus one store for the docroot itself for paths
 * that are not under a device directory (Perlbal serves the whole docroot).
 */
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { LocalBlobStore, type FsyncPolicy } from '../../../engine/blob/local-blob-store.js'

const DEV_DIR = /^dev\d+$/

export interface ResolvedPath {
  /** `dev<N>` or '' for the docroot itself. */
  dev: string
  /** Blob key below the store root; '' when the URL names the store root itself. */
  key: string
  /** True when the URL ended in '/' (a directory request). */
  dirRequest: boolean
}

/**
 * Split a request path (already stripped of its query string) into device and key.
 * Returns undefined for traversal attempts (`..` segments) and NULs; callers
 * answer with Perlbal's error for their method.
 */
export function resolveUrlPath(p: string): ResolvedPath | undefined {
  if (!p.startsWith('/') || p.includes('\0')) return undefined
  const segs = p.split('/').filter((s) => s !== '' && s !== '.')
  if (segs.some((s) => s === '..')) return undefined
  const dirRequest = p.endsWith('/')
  if (segs.length > 0 && DEV_DIR.test(segs[0])) return { dev: segs[0], key: segs.slice(1).join('/'), dirRequest }
  return { dev: '', key: segs.join('/'), dirRequest }
}

/** Lazily opened stores, one per device directory; shared by the HTTP and mgmt servers. */
export class DevStores {
  private readonly stores = new Map<string, Promise<LocalBlobStore>>()

  constructor(
    readonly docroot: string,
    private readonly fsync: FsyncPolicy = 'never',
  ) {}

  /** Absolute directory of a device ('' = docroot). */
  dir(dev: string): string {
    return dev ? path.join(this.docroot, dev) : this.docroot
  }

  /**
   * The store for `dev`. With `create` false (reads, deletes, mgmt queries) a
   * device directory that does not exist yields `undefined` instead of being
   * created: device directories are made by the admin, and a stray GET must
   * not invent one (the tracker discovers devices by directory name).
   */
  async get(dev: string, create: boolean): Promise<LocalBlobStore | undefined> {
    const have = this.stores.get(dev)
    if (have) return have
    if (!create) {
      const st = await stat(this.dir(dev)).catch(() => undefined)
      if (!st?.isDirectory()) return undefined
      // Re-check: another request may have opened it while we were stat'ing.
      const again = this.stores.get(dev)
      if (again) return again
    }
    const p = LocalBlobStore.open({ root: this.dir(dev), fsync: this.fsync })
    this.stores.set(dev, p)
    p.catch(() => this.stores.delete(dev))
    return p
  }
}
