/**
 * The tracker's command table: lower-cased command name → handler.
 * Lookup is case-insensitive because the server lower-cases the name.
 */
import type { Handler } from '../context.js'
import { createClose, createOpen } from './file-open-close.js'
import { deleteFile, fileDebug, fileInfo, getPaths, listFids, listKeys, rename, updateClass } from './file-query.js'
import { createClass, createDomain, deleteClass, deleteDomain, getDomains, updateClassAdmin } from './admin-namespace.js'
import * as c from './admin-cluster.js'
import * as f from './fsck-rebalance.js'

export const COMMANDS: Record<string, Handler> = {
  create_open: createOpen,
  create_close: createClose,
  get_paths: getPaths,
  delete: deleteFile,
  rename,
  updateclass: updateClass,
  file_info: fileInfo,
  file_debug: fileDebug,
  list_keys: listKeys,
  list_fids: listFids,
  get_domains: getDomains,
  create_domain: createDomain,
  delete_domain: deleteDomain,
  create_class: createClass,
  update_class: updateClassAdmin,
  delete_class: deleteClass,
  get_hosts: c.getHosts,
  create_host: c.createHost,
  update_host: c.updateHost,
  delete_host: c.deleteHost,
  get_devices: c.getDevices,
  create_device: c.createDevice,
  set_state: c.setState,
  set_weight: c.setWeight,
  server_setting: c.serverSetting,
  server_settings: c.serverSettings,
  set_server_setting: c.setServerSetting,
  replicate_now: c.replicateNow,
  clear_cache: c.clearCache,
  do_monitor_round: c.doMonitorRound,
  noop: c.noop,
  sleep: c.sleep,
  test: c.test,
  fsck_start: f.fsckStart,
  fsck_stop: f.fsckStop,
  fsck_reset: f.fsckReset,
  fsck_clearlog: f.fsckClearLog,
  fsck_status: f.fsckStatus,
  fsck_getlog: f.fsckGetLog,
  rebalance_set_policy: f.rebalanceSetPolicy,
  rebalance_test: f.rebalanceTest,
  rebalance_start: f.rebalanceStart,
  rebalance_stop: f.rebalanceStop,
  rebalance_status: f.rebalanceStatus,
  rebalance_reset: f.rebalanceReset,
}
