import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfError, ConfFile, parseHostPort, parseSize } from '../../../src/config/conf-file.js'
import { tmpDir } from '../../helpers/proc.js'

describe('ConfFile', () => {
  it('reads key = value, repeated keys, comments, sections and #include relative to the file', () => {
    const dir = tmpDir('conf')
    writeFileSync(path.join(dir, 'common.conf'), 'connect_timeout=5\n')
    writeFileSync(
      path.join(dir, 'client.conf'),
      '# a comment\nbase_path = /tmp/x\ntracker_server = 10.0.0.1:22122\ntracker_server=10.0.0.2:22122\n#include common.conf\n[http]\nserver_port = 8080\n',
    )
    const c = ConfFile.load(path.join(dir, 'client.conf'))
    expect(c.str('base_path')).toBe('/tmp/x')
    expect(c.all('tracker_server')).toEqual(['10.0.0.1:22122', '10.0.0.2:22122'])
    expect(c.int('connect_timeout', 30)).toBe(5)
    expect(c.int('http.server_port', 0)).toBe(8080)
    expect(c.int('missing', 7)).toBe(7)
  })

  it('names file, line and key on a bad value', () => {
    const c = ConfFile.parse('port = abc\n', '/etc/fdfs/tracker.conf')
    expect(() => c.int('port', 22122)).toThrow(ConfError)
    expect(() => c.int('port', 22122)).toThrow('/etc/fdfs/tracker.conf:1: key "port"')
    expect(() => ConfFile.parse('garbage line\n', 'x.conf')).toThrow('x.conf:1')
  })

  it('parses sizes, percentages, booleans and durations', () => {
    const c = ConfFile.parse('a=256KB\nb=20%\nc=10G\nd=yes\ne=2m\nf=maybe\n')
    expect(c.size('a', 0)).toBe(256 * 1024)
    expect(c.reserved('b', '0')).toEqual({ ratio: 0.2 })
    expect(c.reserved('c', '0')).toEqual({ bytes: 10 * 1024 ** 3 })
    expect(c.bool('d', false)).toBe(true)
    expect(c.seconds('e', 0)).toBe(120)
    expect(() => c.bool('f', false)).toThrow(ConfError)
    expect(parseSize('1.5M')).toBe(1.5 * 1024 * 1024)
    expect(parseSize('x')).toBeUndefined()
  })

  it('parses host:port', () => {
    expect(parseHostPort('127.0.0.10:32122', 22122)).toEqual({ host: '127.0.0.10', port: 32122 })
    expect(parseHostPort('tracker', 22122)).toEqual({ host: 'tracker', port: 22122 })
    expect(parseHostPort('[::1]:7001', 1)).toEqual({ host: '::1', port: 7001 })
    expect(() => parseHostPort('h:99999', 1)).toThrow()
  })
})
