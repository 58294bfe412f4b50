/**
 * The tracker's storage changelog, `<base_path>/data/storage_changelog.dat`
 * (the real tracker's file name and line format): one line per membership
 * change a peer storage must act on, `<unix time> <group> <storage id>
 * <status> <new id>\n`, written when a storage reports an IP change (status
 * IP_CHANGED, new id = its new IP: C peers rename their sync mark files and
 * keep their place) or is deleted by an admin (status DELETED, no new id:
 * peers drop its marks).
 *
 * Storages read it with STORAGE_CHANGELOG_REQ (77): each storage entry keeps
 * the offset it has read up to (StorageNode.changelogOffset, persisted with
 * the state), so every change is delivered once. Absent file = no changes yet.
 * Written by storage-handlers.ts / client-handlers.ts, read by changelogReq.
 */
import fs from 'node:fs'
import path from 'node:path'

export class Changelog {
  readonly file: string

  constructor(basePath: string) {
    this.file = path.join(basePath, 'data', 'storage_changelog.dat')
  }

  /** Bytes in the file (0 when absent): where a storage that joins now starts reading. */
  size(): number {
    try {
      return fs.statSync(this.file).size
    } catch {
      return 0
    }
  }

  /**
   * Append one line. Why fsync: peers act on these lines (renaming or dropping sync marks) and
   * the state file that records how far each storage has read is saved separately; a line lost
   * in a crash would be a change some peer never hears of.
   */
  append(group: string, storageId: string, status: number, newId = ''): void {
    const fd = fs.openSync(this.file, 'a')
    try {
      fs.writeSync(fd, `${Math.floor(Date.now() / 1000)} ${group} ${storageId} ${status} ${newId}\n`)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  }

  /** The bytes from `offset` to the end (empty when none or the offset is past the end). */
  readFrom(offset: number): Buffer {
    let fd: number
    try {
      fd = fs.openSync(this.file, 'r')
    } catch {
      return Buffer.alloc(0)
    }
    try {
      const size = fs.fstatSync(fd).size
      if (offset >= size) return Buffer.alloc(0)
      const b = Buffer.alloc(size - offset)
      let done = 0
      while (done < b.length) {
        const n = fs.readSync(fd, b, done, b.length - done, offset + done)
        if (n === 0) break
        done += n
      }
      return b.subarray(0, done)
    } finally {
      fs.closeSync(fd)
    }
  }
}
