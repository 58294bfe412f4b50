/**
 * `tandem up [--dir D] [--mysql URL] [--any-ports]` (and `npm start`): start the
 * all-in-one local deployment, print every endpoint and ready-to-paste commands,
 * and stop everything cleanly on Ctrl-C / SIGTERM.
 */
import path from 'node:path'
import { startCluster, BIN_DIR, type Cluster } from '../deploy/local-cluster.js'

export interface UpOptions {
  dir: string
  mysql?: string
  anyPorts?: boolean
  only?: string
}

function rel(p: string): string {
  const r = path.relative(process.cwd(), p)
  return r.startsWith('..') ? p : r || '.'
}

export function describeCluster(c: Cluster): string {
  const bin = (t: string) => rel(path.join(BIN_DIR, t))
  const lines: string[] = ['', `tandemfs is up (data in ${c.dir})`, '']
  if (c.fastdfs) {
    const f = c.fastdfs
    lines.push(
      'FastDFS personality',
      `  tracker            ${f.tracker}`,
      ...f.storages.map((s, i) => `  storage ${i + 1} (group1) ${s}`),
      `  client.conf        ${f.clientConf}`,
      '  try:',
      `    ${bin('fdfs_upload_file')} ${f.clientConf} README.md`,
      `    ${bin('fdfs_download_file')} ${f.clientConf} <file_id printed above> /tmp/out.bin`,
      `    ${bin('fdfs_monitor')} ${f.clientConf}`,
      '',
    )
  }
  if (c.mogilefs) {
    const m = c.mogilefs
    const t = `--trackers=${m.tracker} --domain=${m.domain}`
    lines.push(
      'MogileFS personality',
      `  tracker            ${m.tracker} (${m.db})`,
      ...m.stores.map((s, i) => `  mogstored ${i + 1}        ${s} (dev${i + 1})`),
      `  domain/class       ${m.domain} / ${m.klass} (mindevcount 2)`,
      '  try:',
      `    ${bin('mogupload')} ${t} --class=${m.klass} --key=hello --file=README.md`,
      `    ${bin('mogfetch')} ${t} --key=hello --file=/tmp/hello.out`,
      `    ${bin('mogadm')} --trackers=${m.tracker} check`,
      '',
    )
  }
  for (const n of c.notes) lines.push(`note: ${n}`)
  lines.push(`logs: ${path.join(c.dir, 'logs')}`, 'Press Ctrl-C to stop.')
  return lines.join('\n')
}

export async function up(o: UpOptions): Promise<number> {
  const only = o.only ? (o.only.split(',') as Array<'fastdfs' | 'mogilefs'>) : undefined
  const c = await startCluster({ dir: o.dir, mysql: o.mysql, anyPorts: o.anyPorts, personalities: only })
  console.log(describeCluster(c))
  await new Promise<void>((resolve) => {
    let stopping = false
    const stop = () => {
      if (stopping) return
      stopping = true
      console.log('\nstopping ...')
      void c.stop().then(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    for (const p of c.procs) {
      p.child.once('exit', (code, sig) => {
        if (!stopping) {
          console.error(`${p.name} exited unexpectedly (code ${code}, signal ${sig}); see ${p.logFile}`)
          stop()
        }
      })
    }
  })
  console.log('stopped.')
  return 0
}
