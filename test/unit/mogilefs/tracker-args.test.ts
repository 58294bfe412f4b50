import { describe, expect, it } from 'vitest'
import { decodeArgs, encodeArgs, errLine, okLine, parseReplyLine, parseRequestLine } from '../../../src/personalities/mogilefs/protocol/args.js'
import { fidPath } from '../../../src/personalities/mogilefs/tracker/paths.js'
import { DEFAULT_MESSAGES, MogError } from '../../../src/personalities/mogilefs/tracker/errors.js'

describe('tracker args codec as the tracker uses it', () => {
  it('decodes what MogileFS::Client sends, including escaped metacharacters', () => {
    const { cmd, args } = parseRequestLine('CREATE_OPEN key=a%26b%3Dc%25d+e%0A&fid=0&class=one&domain=testdom&multi_dest=1')
    expect(cmd).toBe('create_open')
    expect(decodeArgs(args)).toMatchObject({ key: 'a&b=c%d e\n', fid: '0', class: 'one', domain: 'testdom', multi_dest: '1' })
  })
  it('truncates an unescaped = like the reference and joins repeats with NUL', () => {
    expect(decodeArgs('policy=a=b&x=1&x=2')).toMatchObject({ policy: 'a', x: '1\u00002' })
  })
  it('encodes replies in the reference shape', () => {
    expect(okLine({})).toBe('OK \r\n')
    expect(okLine({ path: 'http://127.0.0.1:7500/dev1/0/000/000/0000000001.fid' })).toBe('OK path=http://127.0.0.1:7500/dev1/0/000/000/0000000001.fid\r\n')
    expect(errLine('unknown_command', DEFAULT_MESSAGES.unknown_command)).toBe('ERR unknown_command Unknown+server+command\r\n')
    expect(errLine('key_exists', new MogError('key_exists').message)).toBe("ERR key_exists Target+key+name+already+exists%3B+can%27t+overwrite.\r\n")
    expect(new MogError('unknown_key').message).toBe('unknown_key')
    expect(encodeArgs({ replpolicy: 'MultipleHosts()' })).toBe('replpolicy=MultipleHosts%28%29')
  })
  it('round-trips through the client-side reply parser', () => {
    const r = parseReplyLine(okLine({ key_1: 'a b&c', key_count: 1 }))
    expect(r).toEqual({ ok: true, args: { key_1: 'a b&c', key_count: '1' } })
  })
  it('builds storage paths like the reference', () => {
    expect(fidPath(1, 123)).toBe('/dev1/0/000/000/0000000123.fid')
    expect(fidPath(2, 1820)).toBe('/dev2/0/000/001/0000001820.fid')
    expect(fidPath(3, 29161)).toBe('/dev3/0/000/029/0000029161.fid')
  })
})
