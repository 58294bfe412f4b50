import { describe, expect, it } from 'vitest'
import { ConfFile } from '../../../src/config/conf-file.js'
import { trackerConf } from '../../../src/personalities/mogilefs/tracker/tracker-conf.js'

describe('mogilefsd.conf', () => {
  it('reads the reference keys and accepts unknown ones', () => {
    const c = trackerConf(
      ConfFile.parse(`db_dsn = DBI:mysql:mogref:host=127.0.0.1;port=3306
db_user = mogile
db_pass = secret
listen = 127.0.0.1:17001
mogstored_stream_port = 17501
query_jobs = 10
replicate_jobs = 5
user = root
daemonize = 0
some_plugin_key = whatever`),
    )
    expect(c.dsn).toEqual({ kind: 'mysql', database: 'mogref', host: '127.0.0.1', port: 3306 })
    expect(c).toMatchObject({ dbUser: 'mogile', dbPass: 'secret', listen: { host: '127.0.0.1', port: 17001 }, mogstoredStreamPort: 17501, queryJobs: 10, replicateJobs: 5, daemonize: false })
  })
  it('defaults like the reference', () => {
    const c = trackerConf(ConfFile.parse(''))
    expect(c).toMatchObject({ listen: { host: '0.0.0.0', port: 7001 }, mogstoredStreamPort: 7501, defaultMindevcount: 2, minFreeSpace: 100, replicateJobs: 1, deleteJobs: 1, sqliteSync: 'normal' })
    expect(c.dsn.kind).toBe('sqlite')
  })
  it('rejects nonsense with the file and key named', () => {
    expect(() => trackerConf(ConfFile.parse('mogstored_stream_port = abc', 'x.conf'))).toThrow(/x\.conf:1.*mogstored_stream_port/)
    expect(() => trackerConf(ConfFile.parse('db_dsn = postgres://x'))).toThrow(/DSN/)
  })
})
