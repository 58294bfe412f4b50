/**
 * create_open / create_close: the two tracker halves of an upload (spec §1.3).
 * create_open picks devices and records a tempfile row; create_close verifies
 * what the client PUT and maps the key. After create_close has consumed the
 * tempfile row, every failure throws the fid away (queued for deletion).
 */
import type { DeviceRow } from '../../db/types.js'
import { HASHTYPES } from '../../db/types.js'
import { FidInUseError, TempfileGoneError } from '../../db/file-store.js'
import { REPLICATE_LEASE_SEC } from '../../jobs/replicate.js'
import { policyMin } from '../../jobs/policy.js'
import type { Ctx, Handler } from '../context.js'
import { err, MogError } from '../errors.js'
import { fidUrl } from '../paths.js'
import { headSize, httpDigest, mgmtDigest } from '../storage-http.js'
import { weightedShuffle } from '../weighted.js'
import { checkKey, intArg, needDomain, truthy } from './common.js'
import { logger } from '../../../../log.js'

const log = logger('mogilefs.create')

/** Devices for a new file: writable, enough space, top 20 by free %, weighted by free %, distinct hosts. */
export function chooseDevices(ctx: Ctx, want: number, size: number | undefined): DeviceRow[] {
  const st = ctx.state
  const pct = (d: DeviceRow) => (d.mb_total ? (st.mbFree(d) / Number(d.mb_total)) * 100 : 0)
  let cand = [...st.devices.values()].filter((d) => st.canWrite(d, ctx.conf.minFreeSpace) && (size === undefined || st.mbFree(d) * 1024 * 1024 > size))
  cand = cand.sort((a, b) => pct(b) - pct(a)).slice(0, 20)
  const out: DeviceRow[] = []
  const hosts = new Set<number>()
  for (const d of weightedShuffle(cand, pct)) {
    if (hosts.has(d.hostid)) continue
    out.push(d)
    hosts.add(d.hostid)
    if (out.length >= want) break
  }
  return out
}

export const createOpen: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const key = checkKey(args.key, false)
  const cls = args.class ? ctx.state.classByName(dom.dmid, args.class) : ctx.state.defaultClass(dom.dmid)
  if (!cls) throw err('unreg_class')
  const multi = truthy(args.multi_dest)
  const size = args.size ? intArg(args.size, 0) : undefined
  const explicitFid = intArg(args.fid, 0)
  await ctx.hooks.firstMonitorRound()
  const devs = chooseDevices(ctx, multi ? 3 : 1, size)
  if (!devs.length) throw err('no_devices')
  let fid: number
  try {
    fid = await ctx.store.files.createTempfile({ fid: explicitFid || undefined, dmid: dom.dmid, dkey: key, classid: cls.classid, devids: devs.map((d) => d.devid) })
  } catch (e) {
    if (e instanceof FidInUseError) throw err('fid_in_use')
    throw e
  }
  // No MKCOL: both Perlbal and our mogstored create parent directories on PUT
  // (the reference's MKCOLs are answered 400 and then skipped anyway).
  const url = (d: DeviceRow) => fidUrl(ctx.state.hosts.get(d.hostid)!, d.devid, fid)
  if (!multi) return { fid, devid: devs[0].devid, path: url(devs[0]) }
  const out: Record<string, string | number> = { fid, dev_count: devs.length }
  devs.forEach((d, i) => {
    out[`devid_${i + 1}`] = d.devid
    out[`path_${i + 1}`] = url(d)
  })
  return out
}

/** `MD5:<32 hex>` / `SHA-1:<40 hex>` → parsed, else invalid_checksum_format. */
function parseChecksum(v: string): { alg: 'MD5' | 'SHA-1'; digest: Buffer } {
  const m = /^(MD5|SHA-1):([0-9a-fA-F]+)$/i.exec(v)
  const alg = m ? (m[1].toUpperCase() as 'MD5' | 'SHA-1') : undefined
  if (!m || !alg || m[2].length !== (alg === 'MD5' ? 32 : 40)) throw err('invalid_checksum_format')
  return { alg, digest: Buffer.from(m[2], 'hex') }
}

export const createClose: Handler = async (args, ctx) => {
  const dom = needDomain(args, ctx)
  const fid = intArg(args.fid, 0)
  if (!fid) throw err('no_fid')
  const devid = intArg(args.devid, 0)
  if (!devid) throw err('no_devid')
  if (!args.path) throw err('no_path')
  const key = checkKey(args.key, false)
  const sum = args.checksum && args.checksum !== 'NONE' ? parseChecksum(args.checksum) : undefined
  const dev = ctx.state.devices.get(devid)
  const host = dev ? ctx.state.hosts.get(dev.hostid) : undefined
  const expectPath = host ? fidUrl(host, devid, fid) : undefined
  if (!expectPath || args.path !== expectPath) throw err('bogus_args')

  // The tempfile lookup and the HEAD of the stored blob are independent: run them together.
  const timeout = ctx.conf.nodeTimeout * 1000
  const [temp, actual] = await Promise.all([ctx.store.files.tempfile(fid), headSize(expectPath, timeout).catch(() => undefined)])
  if (!temp) throw err('no_temp_file')
  try {
    const devids = String(temp.devids ?? '').split(',').filter(Boolean).map(Number)
    if (!devids.includes(devid)) throw err('invalid_destdev')
    if (key === '') throw new AbortUpload()
    if (Number(temp.dmid) !== dom.dmid) throw err('unreg_domain')
    if (actual === undefined) throw err('size_verify_error', `Expected: ${args.size ?? '?'}; actual: -1 (missing); path: ${expectPath}`)
    if (args.size !== undefined && args.size !== '' && Number(args.size) !== actual)
      throw err('size_mismatch', `Expected: ${args.size}; actual: ${actual}; path: ${expectPath}`)
    if (sum && truthy(args.checksumverify)) {
      const uri = expectPath.replace(/^http:\/\/[^/]+/, '')
      let got: Buffer | undefined
      try {
        got = await mgmtDigest(host!.hostip, ctx.conf.mogstoredStreamPort, uri, sum.alg, 60_000)
      } catch {
        got = undefined
      }
      if (!got) got = await httpDigest(expectPath, sum.alg === 'MD5' ? 'md5' : 'sha1', 60_000).catch(() => undefined)
      if (!got || !got.equals(sum.digest)) throw err('checksum_mismatch', `checksum mismatch for ${expectPath}`)
    }
    const classid = Number(temp.classid)
    const cls = ctx.state.classById(dom.dmid, classid)
    const hashtype = sum ? HASHTYPES[sum.alg] : undefined
    const checksum = sum && cls.hashtype === hashtype ? { hashtype: hashtype!, digest: sum.digest } : undefined
    // One transaction consumes the tempfile row, maps the key and leases the
    // replication row to this tracker, which starts copying immediately.
    const single = (policyMin(cls.replpolicy) ?? cls.mindevcount) <= 1
    // Lease only when this tracker replicates; otherwise leave the row due for any tracker.
    const local = ctx.conf.replicateJobs > 0
    const { oldFid } = await ctx.store.files.commit({ fid, dmid: dom.dmid, dkey: key, length: actual, classid, devid, checksum, consumeTempfile: true, replicateLease: local ? REPLICATE_LEASE_SEC : undefined, noReplication: single })
    if (oldFid) ctx.hooks.deleted()
    if (!single && local) ctx.hooks.replicate(fid, { file: { fid, dmid: dom.dmid, dkey: key, length: actual, classid, devcount: 1 }, devids: [devid], checksum })
    return {}
  } catch (e) {
    if (e instanceof TempfileGoneError) throw err('no_temp_file')
    // The upload failed after validation: this fid can never be closed again; its blob goes away.
    const mine = await ctx.store.files.discardFid(fid, [devid], true).catch((x) => {
      log.error({ err: x, fid }, 'could not queue discarded fid')
      return true
    })
    if (!mine) throw err('no_temp_file')
    ctx.hooks.deleted()
    if (e instanceof AbortUpload) return {}
    if (!(e instanceof MogError)) log.error({ err: e, fid }, 'create_close failed')
    throw e
  }
}

class AbortUpload extends Error {}
