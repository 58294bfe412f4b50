/** Runs the MetadataStore contract on SQLite (temp file) and on the real MariaDB (fresh database per run). */
import path from 'node:path'
import { rmSync } from 'node:fs'
import knexPkg, { type Knex } from 'knex'
import { metadataStoreContract } from './metadata-store.contract.js'
import { MetadataStore } from '../../src/personalities/mogilefs/db/store.js'
import { tmpDir } from '../helpers/proc.js'

const { knex } = knexPkg as unknown as { knex: (c: Knex.Config) => Knex }

metadataStoreContract('SQLite', async () => {
  const dir = tmpDir('mogmeta')
  const dsn = { kind: 'sqlite' as const, filename: path.join(dir, 'meta.db') }
  return {
    store: await MetadataStore.open(dsn),
    second: () => MetadataStore.open(dsn),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

metadataStoreContract('MariaDB', async () => {
  const database = `tandem_test_${process.pid}_${Math.floor(Math.random() * 1e6)}`
  const root = knex({ client: 'mysql2', connection: { host: '127.0.0.1', port: 3306, user: 'root', password: '' }, pool: { min: 0, max: 1 } })
  await root.raw(`CREATE DATABASE \`${database}\``)
  const dsn = { kind: 'mysql' as const, host: '127.0.0.1', port: 3306, database }
  return {
    store: await MetadataStore.open(dsn, { user: 'root' }),
    second: () => MetadataStore.open(dsn, { user: 'root' }),
    cleanup: async () => {
      await root.raw(`DROP DATABASE IF EXISTS \`${database}\``)
      await root.destroy()
    },
  }
})
