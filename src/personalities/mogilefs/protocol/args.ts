/**
 * MogileFS tracker text-protocol codec (spec ../shared/spec/mogilefs.md §1.1).
 *
 * Request: `<cmd> <args>\r\n`; args are `k=v&k2=v2`, decoded by splitting on `&`,
 * dropping empty pieces, keeping the first two `=` parts, `+` → space, then %XX.
 * Reply: `OK <args>\r\n` (always a space after OK) or `ERR <code> <msg>\r\n`.
 * Encoder keeps [A-Za-z0-9_,\-./\\: ] and %XX-escapes (upper-case hex) every other
 * byte, then turns spaces into `+`.
 *
 * Strings are handled as latin1 "byte strings" so arbitrary bytes (including
 * invalid UTF-8 and NUL) round-trip exactly; callers that need UTF-8 convert.
 */

const KEEP = /[A-Za-z0-9_,\-./\\: ]/

/** Encode one name or value (a byte string: one char per byte, latin1). */
export function encodeComponent(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]
    const code = s.charCodeAt(i)
    if (code < 128 && KEEP.test(ch)) out += ch === ' ' ? '+' : ch
    else out += '%' + (code & 0xff).toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

/** Decode one name or value to a byte string (latin1). */
export function decodeComponent(s: string): string {
  const plus = s.replace(/\+/g, ' ')
  return plus.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
}

/** `k=v&k2=v2` → object; a repeated name is joined with NUL (as the Perl server does). */
export function decodeArgs(s: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null)
  for (const piece of s.split('&')) {
    if (!piece) continue
    const parts = piece.split('=')
    const k = decodeComponent(parts[0])
    const v = decodeComponent(parts[1] ?? '')
    out[k] = k in out ? out[k] + '\0' + v : v
  }
  return out
}

/** Object → `k=v&k2=v2`; undefined/null values are omitted (as MogileFS::Backend does). */
export function encodeArgs(o: Record<string, string | number | undefined | null>): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue
    parts.push(`${encodeComponent(k)}=${encodeComponent(String(v))}`)
  }
  return parts.join('&')
}

export function okLine(args: Record<string, string | number | undefined | null> = {}): string {
  return `OK ${encodeArgs(args)}\r\n`
}

export function errLine(code: string, message?: string): string {
  return `ERR ${code} ${encodeComponent(message ?? code)}\r\n`
}

/** Split a request line into command (lower-cased) and raw args. */
export function parseRequestLine(line: string): { cmd: string; args: string } {
  const trimmed = line.replace(/^\s+/, '')
  const sp = trimmed.search(/\s/)
  if (sp < 0) return { cmd: trimmed.toLowerCase(), args: '' }
  return { cmd: trimmed.slice(0, sp).toLowerCase(), args: trimmed.slice(sp + 1).trim() }
}

/** Parse a reply line as MogileFS::Backend does: OK args, or ERR code msg. */
export function parseReplyLine(line: string): { ok: true; args: Record<string, string> } | { ok: false; code: string; message: string } | undefined {
  const ok = /^OK\s+\d*\s*(\S*)/.exec(line)
  if (ok) return { ok: true, args: decodeArgs(ok[1]) }
  const err = /^ERR\s+(\w+)\s*(\S*)/.exec(line)
  if (err) {
    // Backend decodes %XX first, then '+' → space.
    const msg = err[2].replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\+/g, ' ')
    return { ok: false, code: err[1], message: msg }
  }
  return undefined
}
