/**
 * renameat2 without replace, and unnamed files named by link(2), through the
 * native addon (engine/io/native-fs.ts + native/fsops.c), on real files in a temp dir.
 */
import { closeSync, existsSync, fstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { linkFdSync, readIntoSync, readOut, READ_EFBIG, READ_EISDIR, READ_ENOENT, READ_ENOTDIR, READ_ERANGE, renameNoReplaceAvailable, renameNoReplaceSync, statLiteSync, tmpfileWriteSync } from '../../../src/engine/io/native-fs.js'
import { spawnSync } from 'node:child_process'
import { ADDON_PATH } from '../../../src/engine/io/native-addon.js'
import { tmpDir } from '../../helpers/proc.js'

describe('renameNoReplaceSync', () => {
  it('is built here when CI is set (the native path must not silently vanish)', () => {
    if (process.env.CI) expect(renameNoReplaceAvailable(), 'addon missing: run `node scripts/build-native.mjs`').toBe(true)
  })

  it.runIf(renameNoReplaceAvailable())('moves a file onto a free name and refuses an existing one with EEXIST', () => {
    const d = tmpDir('nfs')
    const a = path.join(d, 'a')
    const b = path.join(d, 'b')
    const c = path.join(d, 'c')
    writeFileSync(a, 'A')
    writeFileSync(c, 'C')
    expect(renameNoReplaceSync(a, b)).toBe(true)
    expect(existsSync(a)).toBe(false)
    expect(readFileSync(b, 'utf8')).toBe('A')
    expect(() => renameNoReplaceSync(b, c)).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'renameat2' }))
    expect(readFileSync(b, 'utf8')).toBe('A')
    expect(readFileSync(c, 'utf8')).toBe('C')
    expect(() => renameNoReplaceSync(path.join(d, 'missing'), path.join(d, 'x'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(() => renameNoReplaceSync('bad\0path', path.join(d, 'y'))).toThrow(/NUL/)
  })
})

describe('tmpfileWriteSync + linkFdSync', () => {
  it('is built here when CI is set', () => {
    if (process.env.CI) expect(tmpfileWriteSync(tmpDir('nfs-probe'), Buffer.alloc(0), 0)).not.toBeNull()
  })

  it('writes an unnamed file that appears only when linked, never over an existing name', () => {
    const d = tmpDir('nfs-tmpfile')
    const body = Buffer.from('hello, unnamed world')
    const mtime = new Date(1_700_000_000_250)
    const u = tmpfileWriteSync(d, body, 5, mtime)
    if (!u) return // no O_TMPFILE on this filesystem: the blob store falls back (tested elsewhere)
    try {
      expect(readdirSync(d)).toEqual([]) // nothing visible before the link
      linkFdSync(u.fd, path.join(d, 'blob'))
      expect(() => linkFdSync(u.fd, path.join(d, 'blob'))).toThrow(expect.objectContaining({ code: 'EEXIST', syscall: 'linkat' }))
    } finally {
      closeSync(u.fd)
    }
    expect(readFileSync(path.join(d, 'blob'), 'utf8')).toBe('hello')
    const st = statSync(path.join(d, 'blob'))
    expect(st.mtimeMs).toBe(1_700_000_000_250)
    expect(u.mtimeMs).toBe(1_700_000_000_250)
    expect(st.ino).toBe(u.ino)
    expect(st.nlink).toBe(1)

    writeFileSync(path.join(d, 'taken'), 'keep')
    const v = tmpfileWriteSync(d, Buffer.from('other'), 5)!
    try {
      expect(() => linkFdSync(v.fd, path.join(d, 'taken'))).toThrow(expect.objectContaining({ code: 'EEXIST' }))
      expect(() => linkFdSync(v.fd, path.join(d, 'no-such-dir', 'x'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    } finally {
      closeSync(v.fd)
    }
    expect(readFileSync(path.join(d, 'taken'), 'utf8')).toBe('keep')
    expect(readdirSync(d).sort()).toEqual(['blob', 'taken']) // the unlinked one left nothing behind
    expect(() => tmpfileWriteSync(path.join(d, 'missing'), body, 1)).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(() => tmpfileWriteSync(d, body, body.length + 1)).toThrow(/outside the buffer/)
  })

  it('with sameSecondOk keeps a file written within the given second, and sets any other second', () => {
    const d = tmpDir('nfs-second')
    // The current second (the file's own mtime falls in it unless the second turns over
    // between the two reads of the clock; then it is set, which this test also accepts).
    const nowSec = Math.floor(Date.now() / 1000)
    const a = tmpfileWriteSync(d, Buffer.from('a'), 1, new Date(nowSec * 1000), true)
    if (!a) return // no O_TMPFILE here
    closeSync(a.fd)
    expect(Math.floor(a.mtimeMs / 1000)).toBe(nowSec)
    // An older second (a replica of a file uploaded earlier) is set exactly.
    const b = tmpfileWriteSync(d, Buffer.from('b'), 1, new Date((nowSec - 100) * 1000), true)!
    try {
      expect(b.mtimeMs).toBe((nowSec - 100) * 1000)
      expect(fstatSync(b.fd).mtimeMs).toBe((nowSec - 100) * 1000)
    } finally {
      closeSync(b.fd)
    }
    // Not a whole second: always set exactly.
    const c = tmpfileWriteSync(d, Buffer.from('c'), 1, new Date(nowSec * 1000 + 250), true)!
    closeSync(c.fd)
    expect(c.mtimeMs).toBe(nowSec * 1000 + 250)
    // Without the flag: exact, as before.
    const e = tmpfileWriteSync(d, Buffer.from('e'), 1, new Date(nowSec * 1000))!
    closeSync(e.fd)
    expect(e.mtimeMs).toBe(nowSec * 1000)
  })
})

describe('linkFdSync without CAP_DAC_READ_SEARCH', () => {
  // linkFd names files with linkat(AT_EMPTY_PATH) where the process may and through
  // /proc/self/fd where it may not. Tests usually run as root, so a child process with that
  // one capability dropped (setpriv) takes the second way, after a first try that fails on a
  // missing directory (which must not be mistaken for a missing capability, or vice versa).
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))
  it.runIf(process.getuid?.() === 0 && setpriv !== undefined && existsSync(ADDON_PATH))('names files through /proc and keeps EEXIST / ENOENT genuine', () => {
    const d = tmpDir('nfs-nocap')
    const script = `
      const m = require(${JSON.stringify(ADDON_PATH)})
      const fs = require('node:fs')
      const d = ${JSON.stringify(d)}
      const cap = /CapEff:\\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]
      const out = { dacReadSearch: (BigInt('0x' + cap) & 4n) !== 0n, steps: [] }
      const link = (name, body) => {
        const [fd] = m.tmpfileWrite(d, Buffer.from(body), body.length, NaN)
        try { m.linkFd(fd, d + '/' + name); out.steps.push('ok') } catch (e) { out.steps.push(e.code) } finally { fs.closeSync(fd) }
      }
      link('missing/x', 'a')
      link('one', 'first')
      link('one', 'again')
      link('missing/y', 'b')
      link('two', 'second')
      console.log(JSON.stringify(out))`
    const r = spawnSync(setpriv!, ['--bounding-set', '-dac_read_search', '--inh-caps', '-dac_read_search', process.execPath, '-e', script], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { dacReadSearch: boolean; steps: string[] }
    expect(out.dacReadSearch).toBe(false)
    expect(out.steps).toEqual(['ENOENT', 'ok', 'EEXIST', 'ENOENT', 'ok'])
    expect(readFileSync(path.join(d, 'one'), 'utf8')).toBe('first')
    expect(readFileSync(path.join(d, 'two'), 'utf8')).toBe('second')
    expect(readdirSync(d).sort()).toEqual(['one', 'two'])
  })
})

describe('statLiteSync', () => {
  it('agrees with fs.statSync on size, mtimeMs (to the bit), inode and file type; absent is undefined', () => {
    const d = tmpDir('statlite')
    const f = path.join(d, 'f')
    writeFileSync(f, Buffer.alloc(12345, 1))
    const want = statSync(f)
    const got = statLiteSync(f)
    expect(got).toEqual({ size: 12345, mtimeMs: want.mtimeMs, ino: want.ino, isFile: true })
    expect(statLiteSync(d)?.isFile).toBe(false)
    expect(statLiteSync(path.join(d, 'missing'))).toBeUndefined()
    expect(statLiteSync(path.join(f, 'under-a-file'))).toBeUndefined()
    expect(() => statLiteSync(path.join(d, 'x'.repeat(5000)))).toThrow(/ENAMETOOLONG/)
  })
})

describe('readIntoSync', () => {
  it.runIf(process.env.TANDEM_NO_NATIVE_FS !== '1' && readIntoSync('/nonexistent', Buffer.alloc(1), 0, 0, -1, 1) !== null)(
    'reads a range into the buffer at an offset, fills [size, mtimeMs, ino, start], and answers errors as -errno',
    () => {
      const d = tmpDir('readinto')
      const f = path.join(d, 'f')
      const body = Buffer.from('0123456789abcdef')
      writeFileSync(f, body)
      const dst = Buffer.alloc(32, 0xee)
      expect(readIntoSync(f, dst, 5, 2, 6, 27)).toBe(4)
      expect(dst.subarray(5, 9).toString()).toBe('2345')
      expect(dst[4]).toBe(0xee)
      expect(dst[9]).toBe(0xee)
      const st = statSync(f)
      expect([...readOut]).toEqual([16, st.mtimeMs, st.ino, 2])
      expect(readIntoSync(f, dst, 0, 10, -1, 32)).toBe(6) // to the end
      expect(readIntoSync(f, dst, 0, 0, 1000, 32)).toBe(16) // end clamped
      expect(readIntoSync(f, dst, 0, 16, -1, 32)).toBe(0) // start = size: nothing, no error
      expect(readIntoSync(f, dst, 0, 17, -1, 32)).toBe(READ_ERANGE)
      expect(readIntoSync(f, dst, 0, 0, -1, 8)).toBe(READ_EFBIG)
      expect(readIntoSync(path.join(d, 'none'), dst, 0, 0, -1, 8)).toBe(READ_ENOENT)
      expect(readIntoSync(path.join(f, 'x'), dst, 0, 0, -1, 8)).toBe(READ_ENOTDIR)
      expect(readIntoSync(d, dst, 0, 0, -1, 8)).toBe(READ_EISDIR)
      expect(() => readIntoSync(f, dst, 30, 0, -1, 8)).toThrow(RangeError) // maxLen past the end of dst
    },
  )
})
