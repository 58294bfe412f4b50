/**
 * renameat2 without replace through the native addon (engine/io/native-fs.ts +
 * native/fsops.c), on real files in a temp dir.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { renameNoReplaceAvailable, renameNoReplaceSync } from '../../../src/engine/io/native-fs.js'
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
