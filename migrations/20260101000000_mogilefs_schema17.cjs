/**
 * MogileFS metadata schema, version 17 (the version mogilefsd 2.73 requires).
 *
 * CommonJS on purpose: knex 3 loads `.cjs` migrations with require(), so the
 * running tracker (plain `node`, no TS loader) and `mogdbsetup` can apply it
 * inside a `"type": "module"` package.
 *
 * Compatibility rules:
 *  - MySQL/MariaDB tables use the same column types, keys and names as the
 *    reference mogdbsetup creates (InnoDB, UNSIGNED, BIGINT fids, ENUM states),
 *    so the reference tracker runs on a database made here and ours runs on one
 *    made by the reference tool.
 *  - Every table is created only if missing: on a database made by the real
 *    mogdbsetup this migration only records itself (and adds the schema_version
 *    row if absent). A schema_version other than 17 is refused, as the real
 *    tracker does.
 *  - Key case-insensitivity: MySQL follows the database's default collation
 *    (latin1_swedish_ci / utf8mb4_general_ci in practice: case-insensitive,
 *    trailing spaces ignored) exactly as the reference does. SQLite declares
 *    `dkey`, `namespace`, `classname` and `hostname` COLLATE NOCASE so both
 *    backends agree that `CaseKey` and `casekey` are one key (ASCII folding;
 *    trailing spaces stay significant on SQLite).
 */
'use strict'

const SCHEMA_VERSION = 17

const MYSQL = {
  domain: `CREATE TABLE domain (
    dmid SMALLINT UNSIGNED NOT NULL PRIMARY KEY,
    namespace VARCHAR(255),
    UNIQUE (namespace))`,
  class: `CREATE TABLE class (
    dmid SMALLINT UNSIGNED NOT NULL,
    classid TINYINT UNSIGNED NOT NULL,
    classname VARCHAR(50),
    mindevcount TINYINT UNSIGNED NOT NULL,
    hashtype TINYINT UNSIGNED,
    replpolicy VARCHAR(255),
    PRIMARY KEY (dmid, classid),
    UNIQUE dmid (dmid, classname))`,
  file: `CREATE TABLE file (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    dmid SMALLINT UNSIGNED NOT NULL,
    dkey VARCHAR(255),
    length BIGINT UNSIGNED,
    classid TINYINT UNSIGNED NOT NULL,
    devcount TINYINT UNSIGNED NOT NULL,
    UNIQUE dkey (dmid, dkey),
    INDEX devcount (dmid, classid, devcount))`,
  tempfile: `CREATE TABLE tempfile (
    fid BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    createtime INT UNSIGNED NOT NULL,
    classid TINYINT UNSIGNED NOT NULL,
    dmid SMALLINT UNSIGNED NOT NULL,
    dkey VARCHAR(255),
    devids VARCHAR(60))`,
  file_on: `CREATE TABLE file_on (
    fid BIGINT UNSIGNED NOT NULL,
    devid MEDIUMINT UNSIGNED NOT NULL,
    PRIMARY KEY (fid, devid),
    INDEX devid (devid))`,
  file_on_corrupt: `CREATE TABLE file_on_corrupt (
    fid BIGINT UNSIGNED NOT NULL,
    devid MEDIUMINT UNSIGNED NOT NULL,
    PRIMARY KEY (fid, devid))`,
  file_to_delete: `CREATE TABLE file_to_delete (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY)`,
  file_to_delete2: `CREATE TABLE file_to_delete2 (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    nexttry INT UNSIGNED NOT NULL,
    failcount TINYINT UNSIGNED NOT NULL DEFAULT 0,
    INDEX nexttry (nexttry))`,
  file_to_delete_later: `CREATE TABLE file_to_delete_later (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    delafter INT UNSIGNED NOT NULL,
    INDEX delafter (delafter))`,
  file_to_replicate: `CREATE TABLE file_to_replicate (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    nexttry INT UNSIGNED NOT NULL,
    fromdevid INT UNSIGNED,
    failcount TINYINT UNSIGNED NOT NULL DEFAULT 0,
    flags SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    INDEX nexttry (nexttry))`,
  file_to_queue: `CREATE TABLE file_to_queue (
    fid BIGINT UNSIGNED NOT NULL,
    devid INT UNSIGNED,
    type TINYINT UNSIGNED NOT NULL,
    nexttry INT UNSIGNED NOT NULL,
    failcount TINYINT UNSIGNED NOT NULL DEFAULT 0,
    flags SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    arg TEXT,
    PRIMARY KEY (fid, type),
    INDEX type_nexttry (type, nexttry))`,
  unreachable_fids: `CREATE TABLE unreachable_fids (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    lastupdate INT UNSIGNED NOT NULL,
    INDEX lastupdate (lastupdate))`,
  fsck_log: `CREATE TABLE fsck_log (
    logid INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    utime INT UNSIGNED NOT NULL,
    fid BIGINT UNSIGNED NULL,
    evcode CHAR(4),
    devid MEDIUMINT UNSIGNED,
    INDEX utime (utime))`,
  host: `CREATE TABLE host (
    hostid MEDIUMINT UNSIGNED NOT NULL PRIMARY KEY,
    status ENUM('alive','dead','down','readonly'),
    http_port MEDIUMINT UNSIGNED DEFAULT 7500,
    http_get_port MEDIUMINT UNSIGNED,
    hostname VARCHAR(40),
    hostip VARCHAR(15),
    altip VARCHAR(15),
    altmask VARCHAR(18),
    UNIQUE hostname (hostname),
    UNIQUE hostip (hostip),
    UNIQUE altip (altip))`,
  device: `CREATE TABLE device (
    devid MEDIUMINT UNSIGNED NOT NULL PRIMARY KEY,
    hostid MEDIUMINT UNSIGNED NOT NULL,
    status ENUM('alive','dead','down','readonly','drain'),
    weight MEDIUMINT DEFAULT 100,
    mb_total INT UNSIGNED,
    mb_used INT UNSIGNED,
    mb_asof INT UNSIGNED,
    INDEX status (status))`,
  server_settings: `CREATE TABLE server_settings (
    field VARCHAR(50) NOT NULL PRIMARY KEY,
    value TEXT)`,
  checksum: `CREATE TABLE checksum (
    fid BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    hashtype TINYINT UNSIGNED NOT NULL,
    checksum VARBINARY(64) NOT NULL)`,
}

const SQLITE = {
  domain: [`CREATE TABLE domain (dmid INTEGER NOT NULL PRIMARY KEY, namespace VARCHAR(255) COLLATE NOCASE UNIQUE)`],
  class: [`CREATE TABLE class (dmid INTEGER NOT NULL, classid INTEGER NOT NULL, classname VARCHAR(50) COLLATE NOCASE,
    mindevcount INTEGER NOT NULL, hashtype INTEGER, replpolicy VARCHAR(255), PRIMARY KEY (dmid, classid), UNIQUE (dmid, classname))`],
  file: [
    `CREATE TABLE file (fid INTEGER NOT NULL PRIMARY KEY, dmid INTEGER NOT NULL, dkey VARCHAR(255) COLLATE NOCASE,
      length INTEGER, classid INTEGER NOT NULL, devcount INTEGER NOT NULL, UNIQUE (dmid, dkey))`,
    `CREATE INDEX file_devcount ON file (dmid, classid, devcount)`,
  ],
  // AUTOINCREMENT: a fid must never be handed out twice, even after the
  // highest tempfile row was deleted (plain rowid reuse would do that).
  tempfile: [`CREATE TABLE tempfile (fid INTEGER PRIMARY KEY AUTOINCREMENT, createtime INTEGER NOT NULL, classid INTEGER NOT NULL,
    dmid INTEGER NOT NULL, dkey VARCHAR(255), devids VARCHAR(60))`],
  file_on: [`CREATE TABLE file_on (fid INTEGER NOT NULL, devid INTEGER NOT NULL, PRIMARY KEY (fid, devid))`, `CREATE INDEX file_on_devid ON file_on (devid)`],
  file_on_corrupt: [`CREATE TABLE file_on_corrupt (fid INTEGER NOT NULL, devid INTEGER NOT NULL, PRIMARY KEY (fid, devid))`],
  file_to_delete: [`CREATE TABLE file_to_delete (fid INTEGER NOT NULL PRIMARY KEY)`],
  file_to_delete2: [
    `CREATE TABLE file_to_delete2 (fid INTEGER NOT NULL PRIMARY KEY, nexttry INTEGER NOT NULL, failcount INTEGER NOT NULL DEFAULT 0)`,
    `CREATE INDEX file_to_delete2_nexttry ON file_to_delete2 (nexttry)`,
  ],
  file_to_delete_later: [
    `CREATE TABLE file_to_delete_later (fid INTEGER NOT NULL PRIMARY KEY, delafter INTEGER NOT NULL)`,
    `CREATE INDEX file_to_delete_later_delafter ON file_to_delete_later (delafter)`,
  ],
  file_to_replicate: [
    `CREATE TABLE file_to_replicate (fid INTEGER NOT NULL PRIMARY KEY, nexttry INTEGER NOT NULL, fromdevid INTEGER,
      failcount INTEGER NOT NULL DEFAULT 0, flags INTEGER NOT NULL DEFAULT 0)`,
    `CREATE INDEX file_to_replicate_nexttry ON file_to_replicate (nexttry)`,
  ],
  file_to_queue: [
    `CREATE TABLE file_to_queue (fid INTEGER NOT NULL, devid INTEGER, type INTEGER NOT NULL, nexttry INTEGER NOT NULL,
      failcount INTEGER NOT NULL DEFAULT 0, flags INTEGER NOT NULL DEFAULT 0, arg TEXT, PRIMARY KEY (fid, type))`,
    `CREATE INDEX file_to_queue_type_nexttry ON file_to_queue (type, nexttry)`,
  ],
  unreachable_fids: [
    `CREATE TABLE unreachable_fids (fid INTEGER NOT NULL PRIMARY KEY, lastupdate INTEGER NOT NULL)`,
    `CREATE INDEX unreachable_fids_lastupdate ON unreachable_fids (lastupdate)`,
  ],
  fsck_log: [
    `CREATE TABLE fsck_log (logid INTEGER PRIMARY KEY AUTOINCREMENT, utime INTEGER NOT NULL, fid INTEGER, evcode CHAR(4), devid INTEGER)`,
    `CREATE INDEX fsck_log_utime ON fsck_log (utime)`,
  ],
  host: [`CREATE TABLE host (hostid INTEGER NOT NULL PRIMARY KEY,
    status TEXT CHECK (status IN ('alive','dead','down','readonly')), http_port INTEGER DEFAULT 7500, http_get_port INTEGER,
    hostname VARCHAR(40) COLLATE NOCASE UNIQUE, hostip VARCHAR(15) UNIQUE, altip VARCHAR(15) UNIQUE, altmask VARCHAR(18))`],
  device: [
    `CREATE TABLE device (devid INTEGER NOT NULL PRIMARY KEY, hostid INTEGER NOT NULL,
      status TEXT CHECK (status IN ('alive','dead','down','readonly','drain')), weight INTEGER DEFAULT 100,
      mb_total INTEGER, mb_used INTEGER, mb_asof INTEGER)`,
    `CREATE INDEX device_status ON device (status)`,
  ],
  server_settings: [`CREATE TABLE server_settings (field VARCHAR(50) NOT NULL PRIMARY KEY, value TEXT)`],
  checksum: [`CREATE TABLE checksum (fid INTEGER NOT NULL PRIMARY KEY, hashtype INTEGER NOT NULL, checksum BLOB NOT NULL)`],
  // Only the reference tracker uses this (its SQLite store emulates MySQL GET_LOCK
  // with rows here); created so the reference mogilefsd also runs on our SQLite file.
  lock: [`CREATE TABLE lock (lockid INTEGER NOT NULL PRIMARY KEY, hostname VARCHAR(255) NOT NULL, pid INTEGER NOT NULL, acquiredat INTEGER NOT NULL)`],
}

function isMysql(knex) {
  const c = knex.client.config.client
  return c === 'mysql' || c === 'mysql2'
}

exports.up = async function up(knex) {
  const mysql = isMysql(knex)
  const ddl = mysql ? MYSQL : SQLITE
  for (const table of Object.keys(ddl)) {
    if (await knex.schema.hasTable(table)) continue
    if (mysql) await knex.raw(ddl[table] + ' ENGINE=InnoDB')
    else for (const stmt of ddl[table]) await knex.raw(stmt)
  }
  const row = await knex('server_settings').where({ field: 'schema_version' }).first()
  if (!row) await knex('server_settings').insert({ field: 'schema_version', value: String(SCHEMA_VERSION) })
  else if (Number(row.value) !== SCHEMA_VERSION)
    throw new Error(`database schema_version is ${row.value}; this tracker needs ${SCHEMA_VERSION} (upgrade it with the reference mogdbsetup first)`)
}

exports.down = async function down(knex) {
  const ddl = isMysql(knex) ? MYSQL : SQLITE
  for (const table of Object.keys(ddl).reverse()) await knex.schema.dropTableIfExists(table)
}

exports.SCHEMA_VERSION = SCHEMA_VERSION
