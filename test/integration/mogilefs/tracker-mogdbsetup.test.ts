/**
 * bin/mogdbsetup creates and (re-)checks the schema on SQLite and on a fresh
 * MariaDB database (creating a tracker user too), and is idempotent.
 */
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import knexPkg, { type Knex } from 'knex'
import { runCli, tmpDir } from '../../helpers/proc.js'
import { MetadataStore } from '../../../src/personalities/mogilefs/db/store.js'

const { knex } = knexPkg as unknown as { knex: (c: Knex.Config) => Knex }
const TABLES = ['domain', 'class', 'file', 'tempfile', 'file_on', 'file_on_corrupt', 'file_to_delete', 'file_to_delete2', 'file_to_delete_later', 'file_to_replicate', 'file_to_queue', 'unreachable_fids', 'fsck_log', 'host', 'device', 'server_settings', 'checksum']

describe('mogdbsetup', () => {
  const root = knex({ client: 'mysql2', connection: { host: '127.0.0.1', port: 3306, user: 'root', password: '' }, pool: { min: 0, max: 1 } })
  const database = `tandem_test_${process.pid}_${Math.floor(Math.random() * 1e6)}`
  const user = `tdm_${Math.floor(Math.random() * 1e6)}`
  afterAll(async () => {
    await root.raw(`DROP DATABASE IF EXISTS \`${database}\``)
    await root.raw(`DROP USER IF EXISTS ?@'%'`, [user]).catch(() => {})
    await root.raw(`DROP USER IF EXISTS ?@'localhost'`, [user]).catch(() => {})
    await root.destroy()
  })

  it('sets up SQLite via --type=SQLite --dbname=FILE and via --dsn, idempotently', async () => {
    const dir = tmpDir('mogdbsetup')
    const file = path.join(dir, 'meta.db')
    for (const args of [['--type=SQLite', `--dbname=${file}`, '--yes'], [`--dsn=DBI:SQLite:dbname=${file}`, '--yes']]) {
      const r = await runCli('mogdbsetup', args)
      expect(r.code, r.stderr).toBe(0)
    }
    const s = await MetadataStore.open({ kind: 'sqlite', filename: file }, { migrate: false })
    for (const t of TABLES) expect(await s.k.schema.hasTable(t), t).toBe(true)
    expect(await s.setting('schema_version')).toBe('17')
    await s.close()
  })

  it('without --yes it asks and stops on "no"', async () => {
    const r = await runCli('mogdbsetup', ['--type=SQLite', `--dbname=${path.join(tmpDir('mogdbsetup'), 'x.db')}`], { input: Buffer.from('n\n') })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Stopped.')
  })

  it('creates a MariaDB database and a tracker user that can use it', async () => {
    const args = ['--dbhost=127.0.0.1', '--dbport=3306', `--dbname=${database}`, '--dbrootuser=root', `--dbuser=${user}`, '--dbpass=secret', '--yes']
    const r = await runCli('mogdbsetup', args)
    expect(r.code, r.stderr).toBe(0)
    expect((await runCli('mogdbsetup', args)).code).toBe(0)
    const s = await MetadataStore.open({ kind: 'mysql', host: '127.0.0.1', port: 3306, database }, { user, password: 'secret', migrate: false })
    for (const t of TABLES) expect(await s.k.schema.hasTable(t), t).toBe(true)
    expect(await s.setting('schema_version')).toBe('17')
    await s.close()
  })

  it('refuses bad names instead of building SQL from them', async () => {
    const r = await runCli('mogdbsetup', ['--dbhost=127.0.0.1', '--dbname=x`; DROP DATABASE test; --', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('invalid database name')
  })
})
