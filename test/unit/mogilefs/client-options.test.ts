/**
 * MogileFS-Utils option and config handling: Getopt::Long-like parsing,
 * config files in priority order, tracker normalisation.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { getopts, normalizeTrackers, readConfFiles, utilsOptions } from '../../../src/personalities/mogilefs/client/tool-options.js'
import { tmpDir } from '../../helpers/proc.js'

describe('getopts', () => {
  it('accepts --k=v, --k v, -k=v and unique prefixes', () => {
    const r = getopts(['--key=a', '--file', 'f', '-class=c', '--dom', 'd'], ['key=s', 'file=s', 'class=s', 'domain=s'])
    expect(r.values).toEqual({ key: 'a', file: 'f', class: 'c', domain: 'd' })
  })
  it('keeps `-` (stdin) as a value and rejects unknown/ambiguous options and bad integers', () => {
    expect(getopts(['--file', '-'], ['file=s']).values.file).toBe('-')
    expect(() => getopts(['--nope=1'], ['key=s'])).toThrow(/Unknown option/)
    expect(() => getopts(['--k=1'], ['key=s', 'kind=s'])).toThrow(/ambiguous/)
    expect(() => getopts(['--count=x'], ['count=i'])).toThrow(/number expected/)
  })
})

describe('config', () => {
  it('earlier files win per key; comments are stripped', () => {
    const d = tmpDir('mogconf')
    const a = path.join(d, 'a.conf')
    const b = path.join(d, 'b.conf')
    writeFileSync(a, 'domain = first # comment\n')
    writeFileSync(b, 'domain = second\ntrackers = h1, h2:7002\n')
    expect(readConfFiles([a, undefined, path.join(d, 'missing'), b])).toEqual({ domain: 'first', trackers: 'h1, h2:7002' })
  })
  it('normalizes trackers: a missing port becomes 7001', () => {
    expect(normalizeTrackers('h1, h2:7002,')).toEqual(['h1:7001', 'h2:7002'])
  })
  it('utilsOptions: --conf file + flags; class "default" means no class; no args → usage', () => {
    const d = tmpDir('mogconf')
    const c = path.join(d, 'm.conf')
    writeFileSync(c, 'trackers = 10.0.0.1\ndomain = dom\n')
    const o = utilsOptions([`--conf=${c}`, '--key=k', '--class=default'], ['key=s', 'class=s'])!
    expect(o.trackers).toEqual(['10.0.0.1:7001'])
    expect(o.domain).toBe('dom')
    expect(o.values.class).toBe('')
    expect(utilsOptions([], ['key=s'])).toBeUndefined()
  })
})
