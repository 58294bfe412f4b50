/** `fdfs_crc32 <filename>`: print the file's CRC32 (zlib/IEEE) as 8 lower-case hex digits, streaming the file. */
import { createReadStream } from 'node:fs'
import { crc32Update } from '../engine/crc32.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.length < 1) {
    console.log('Usage: fdfs_crc32 <filename>')
    return 1
  }
  let c = 0
  try {
    for await (const chunk of createReadStream(argv[0], { highWaterMark: 512 * 1024 })) c = crc32Update(c, chunk as Buffer)
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    const errno = err.code === 'ENOENT' ? 2 : err.code === 'EACCES' ? 13 : 5
    console.log(`file: fdfs_crc32.c, line: 0, open file ${argv[0]} fail, errno: ${errno}, error info: ${err.code === 'ENOENT' ? 'No such file or directory' : err.message}`)
    return errno
  }
  console.log((c >>> 0).toString(16).padStart(8, '0'))
  return 0
}
