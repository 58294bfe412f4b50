/**
 * mogadm's command table (topics, verbs, positional args, options, help
 * texts) and its help/usage printers, reproducing MogileFS-Utils 2.30's
 * output layout. Used by src/cli/mogadm.ts.
 */

export interface VerbInfo {
  des: string
  args?: string
  opts?: Record<string, string>
}
export interface TopicInfo {
  des: string
  subcmd?: Record<string, VerbInfo>
}

const STATUS_HOST = 'One of {alive,down,readonly}.'
const hostOpts = (addDefault: boolean): Record<string, string> => ({
  '<hostname>': addDefault ? 'Hostname of machine' : 'Host name.',
  '--status=s': addDefault ? "One of {alive,down,readonly}.  Default 'down'." : STATUS_HOST,
  '--ip=s': 'IP address of machine.',
  '--port=i': 'HTTP port of mogstored',
  '--getport=i': 'Alternate HTTP port serving readonly traffic',
  '--altip=s': 'Alternate IP that is machine is reachable from',
  '--altmask=s': 'Netmask which, when matches client, uses alt IP',
})
const classOpts = (): Record<string, string> => ({
  '<domain>': 'Domain to add class to.',
  '<class>': 'Name of class to add.',
  '--mindevcount=i': 'Minimum number of replicas.',
  '--replpolicy=s': 'Replication policy string.',
  '--hashtype=s': "Hash algorithm string ('MD5', 'NONE').",
})
const slaveOpts = (): Record<string, string> => ({
  '--dsn=s': 'DBI DSN specifying what database to connect to.',
  '--username=s': 'DBI username for connecting.',
  '--password=s': 'DBI password for connecting.',
})

export const TOPCMDS = ['check', 'stats', 'host', 'device', 'domain', 'class', 'slave', 'fsck', 'rebalance', 'settings']

export const USAGE: Record<string, TopicInfo> = {
  check: { des: 'Check the state of the MogileFS world.' },
  stats: { des: 'Show MogileFS system statistics.  (DEPRECATED: use mogstats instead)' },
  settings: {
    des: 'Change/list server settings.',
    subcmd: {
      list: { des: 'List all server settings' },
      set: { args: '<key> <value>', des: "Set server setting 'key' to 'value'." },
    },
  },
  host: {
    des: 'Add/modify hosts.',
    subcmd: {
      list: { des: 'List all hosts.' },
      add: { des: 'Add a host to MogileFS.', args: '<hostname> [opts]', opts: hostOpts(true) },
      modify: { des: "Modify a host's properties.", args: '<hostname> [opts]', opts: hostOpts(false) },
      mark: {
        des: "Change the status of a host.  (equivalent to 'modify --status')",
        args: '<hostname> <status>',
        opts: { '<hostname>': 'Host name to bring up or down.', '<status>': 'One of {alive,down,readonly}.' },
      },
      delete: { des: 'Delete a host.', args: '<hostname>', opts: { '<hostname>': 'Host name to delete.' } },
    },
  },
  device: {
    des: 'Add/modify devices.',
    subcmd: {
      list: { des: 'List all devices, for each host.', args: '[opts]', opts: { '--all': 'Include dead devices in list.', '--hostname=s': 'Limit results to a given host.' } },
      summary: {
        des: 'List the summary of devices, for each host.',
        args: '[opts]',
        opts: { '--status=s': "Devices of status A. Defaults to 'alive,readonly,drain'", '--hostname=s': 'Limit results to a given host.' },
      },
      add: {
        des: 'Add a device to a host.',
        args: '<hostname> <devid> [opts]',
        opts: { '<hostname>': 'Hostname to add a device', '<devid>': 'Numeric devid.  Never reuse these.', '--status=s': "One of 'alive' or 'down'.  Defaults to 'alive'." },
      },
      mark: {
        des: 'Mark a device as {alive,dead,down,drain,readonly}',
        args: '<hostname> <devid> <status>',
        opts: { '<hostname>': 'Hostname of device', '<devid>': 'Numeric devid to modify.', '<status>': 'One of {alive,dead,down,drain,readonly}' },
      },
      modify: {
        des: "Modify a device's properties.",
        args: '<hostname> <devid> [opts]',
        opts: { '<hostname>': 'Hostname of device', '<devid>': 'Numeric devid to modify.', '--status=s': 'One of {alive,dead,down,drain,readonly}', '--weight=i': 'Positive numeric weight for device' },
      },
      next: { des: 'Show the next available devid.' },
    },
  },
  domain: {
    des: 'Add/modify domains (namespaces)',
    subcmd: {
      list: { des: 'List all hosts.' },
      add: { des: 'Add a domain (namespace)', args: '<domain>', opts: { '<domain>': 'Domain (namespace) to add.' } },
      delete: { des: 'Delete a domain.', args: '<domain>', opts: { '<domain>': 'Domain (namespace) to add.' } },
    },
  },
  class: {
    des: 'Add/modify file classes.',
    subcmd: {
      list: { des: 'List all classes, for each domain.' },
      add: { des: 'Add a file class to a domain.', args: '<domain> <class> [opts]', opts: classOpts() },
      modify: { des: 'Modify properties of a file class.', args: '<domain> <class> [opts]', opts: classOpts() },
      delete: { des: 'Delete a file class from a domain.', args: '<domain> <class>', opts: { '<domain>': 'Domain of class to delete.', '<class>': 'Class to delete.' } },
    },
  },
  slave: {
    des: 'Manipulate slave database information in a running mogilefsd.',
    subcmd: {
      list: { des: 'List current store slave nodes.' },
      add: { des: 'Add a slave node for store usage', args: '<slave_key> [opts]', opts: slaveOpts() },
      modify: { des: 'Modify a slave node for store usage', args: '<slave_key> [opts]', opts: slaveOpts() },
      delete: { des: 'Delete a slave node for store usage', args: '<slave_key>' },
    },
  },
  rebalance: {
    des: 'Control file rebalancing operations.',
    subcmd: {
      start: { des: 'Start a rebalance job' },
      stop: { des: 'Stop a rebalance job' },
      status: { des: 'Show status of current rebalance job' },
      settings: { des: 'Display rebalance settings' },
      test: { des: 'Show what devices the current policy would match' },
      reset: { des: 'Reset an existing policy' },
      policy: { des: 'Add or adjust the current policy', args: '[opts]', opts: { '--options=s': 'Policy string (see docs/wiki for details)' } },
    },
  },
  fsck: {
    des: 'Control a background filesystem check operation.',
    subcmd: {
      start: { des: 'Start (or resume) background fsck' },
      stop: { des: 'Stop (pause) background fsck' },
      status: { des: 'Show fsck status' },
      reset: {
        des: 'Reset fsck position back to the beginning',
        args: '[opts]',
        opts: { '--policy-only': "Check repl policy (assumed locations); don't stat storage nodes", '--startpos=i': 'FID to start at.' },
      },
      clearlog: { des: 'Clear the fsck log' },
      printlog: { des: 'Display the fsck log' },
      taillog: { des: 'Tail the fsck log' },
    },
  },
}

const pad = (s: string, w: number) => s.padEnd(w)

/** Top-level usage (stdout, then exit 1). */
export function topUsage(): string {
  let ret = 'Usage:  (enter any command prefix, leaving off options, for further help)\n\n'
  for (const cmd of TOPCMDS) {
    const sbc = USAGE[cmd].subcmd
    if (!sbc) {
      ret += `  mogadm ${pad(cmd, 25)} ${USAGE[cmd].des}\n`
      continue
    }
    ret += `  mogadm ${cmd} ...\n`
    for (const v of Object.keys(sbc).sort()) {
      const dotdot = sbc[v].args ? '...' : ''
      ret += `       ` + `  ${pad(`${cmd} ${v} ${dotdot}`, 25)} ${sbc[v].des}\n`
    }
  }
  return ret + '\n'
}

/** Help for one topic (and verb), with an optional error message first (stdout, then exit 1). */
export function topicHelp(cmd: string, verb?: string, msg?: string): string {
  let out = msg ? `\nERROR: ${msg}\n\n` : ''
  let ret = `Help for '${cmd}${verb ? `-${verb}` : ''}' command:\n`
  if (!verb) ret += ' (enter any command prefix, leaving off options, for further help)\n'
  ret += '\n'
  const sub = USAGE[cmd].subcmd ?? {}
  for (const v of Object.keys(sub).sort()) {
    if (verb && verb !== v) continue
    ret += `  ${pad(`mogadm ${cmd} ${v} ${sub[v].args ?? ''}`, 50)} ${sub[v].des}\n`
  }
  out += ret + '\n'
  if (verb && sub[verb]) {
    const opts = sub[verb].opts ?? {}
    const keys = Object.keys(opts).sort((a, b) => (b[0] < a[0] ? -1 : b[0] > a[0] ? 1 : a < b ? -1 : a > b ? 1 : 0))
    for (const o of keys) out += `      ${pad(o, 20)} ${opts[o]}\n`
    out += '\n'
  }
  return out
}

export const TEXT: Record<string, string> = {
  no_mogadm: 'Unable to access MogileFS tracker and/or instantiate a MogileFS::Admin object.\n',
  no_domains: 'Unable to retrieve domains from tracker(s).\n',
  no_devices: 'No devices found on tracker(s).\n',
  host_add_no_ip:
    "Hostname does not resolve to an IP, and you didn't specify one on the options\nlist.  Please either verify the host resolves, or try again:\n\n    mogadm host add <hostname> --ip=<ipaddr> [...]\n",
  no_hosts: 'Unable to retrieve host information from tracker(s).\n',
  no_trackers:
    'In order to use the mogadm toolkit, you need to provide the information about\nwhere your trackers are.\n\nIn your configuration file:\n\n    trackers = 10.10.0.33:7001, 10.10.0.34:7001\n\nOr on the command line\n\n    mogadm --trackers=10.10.0.33:7001,10.10.0.34:7001\n',
}
