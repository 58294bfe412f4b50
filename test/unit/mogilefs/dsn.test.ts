import { describe, expect, it } from 'vitest'
import { DsnError, formatDsn, parseDsn } from '../../../src/personalities/mogilefs/db/dsn.js'

describe('parseDsn', () => {
  it('parses the MySQL forms used by mogilefsd.conf', () => {
    expect(parseDsn('DBI:mysql:mogilefs;host=127.0.0.1;port=3306')).toEqual({ kind: 'mysql', database: 'mogilefs', host: '127.0.0.1', port: 3306 })
    expect(parseDsn('DBI:mysql:mogref:host=127.0.0.1;port=13306')).toEqual({ kind: 'mysql', database: 'mogref', host: '127.0.0.1', port: 13306 })
    expect(parseDsn('dbi:mysql:database=m2;host=db1')).toEqual({ kind: 'mysql', database: 'm2', host: 'db1', port: 3306 })
    expect(parseDsn('DBI:mysql:dbname=m3')).toMatchObject({ database: 'm3', host: 'localhost' })
  })
  it('parses SQLite DSNs', () => {
    expect(parseDsn('DBI:SQLite:dbname=/var/lib/mog.db')).toEqual({ kind: 'sqlite', filename: '/var/lib/mog.db' })
    expect(parseDsn('DBI:SQLite:/tmp/x.db')).toEqual({ kind: 'sqlite', filename: '/tmp/x.db' })
  })
  it('rejects what it cannot use', () => {
    expect(() => parseDsn('mysql://x')).toThrow(DsnError)
    expect(() => parseDsn('DBI:Pg:dbname=x')).toThrow(/unsupported/)
    expect(() => parseDsn('DBI:mysql:host=x')).toThrow(/database/)
    expect(() => parseDsn('DBI:mysql:db;port=99999')).toThrow(/port/)
    expect(() => parseDsn('DBI:SQLite:dbname=')).toThrow(/file/)
  })
  it('formats back', () => {
    expect(formatDsn(parseDsn('DBI:mysql:m;host=h;port=1'))).toBe('DBI:mysql:m;host=h;port=1')
    expect(formatDsn(parseDsn('DBI:SQLite:dbname=/a'))).toBe('DBI:SQLite:dbname=/a')
  })
})
