/**
 * FastDFS anti-steal tokens, as fastdfs-nginx-module checks them:
 * token = hex(md5(file_id + secret_key + decimal timestamp)), valid while
 * now - ts <= token_ttl (ts = 0 never expires). file_id is the full
 * `group/M00/...` id, as in the URLs the FastDFS client samples print.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export function genToken(secret: string, fileId: string, ts: number): string {
  return createHash('md5').update(`${fileId}${secret}${ts}`).digest('hex')
}

export type TokenVerdict = 'ok' | 'missing' | 'expired' | 'bad'

export function checkToken(secret: string, fileId: string, token: string | undefined, tsText: string | undefined, ttlSec: number, nowSec = Math.floor(Date.now() / 1000)): TokenVerdict {
  if (!token || !tsText) return 'missing'
  if (!/^\d{1,12}$/.test(tsText) || !/^[0-9a-fA-F]{32}$/.test(token)) return 'bad'
  const ts = Number(tsText)
  if (ts !== 0 && nowSec - ts > ttlSec) return 'expired'
  const want = Buffer.from(genToken(secret, fileId, ts))
  return timingSafeEqual(want, Buffer.from(token.toLowerCase())) ? 'ok' : 'bad'
}
