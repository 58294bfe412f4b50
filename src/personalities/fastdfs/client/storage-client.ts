/**
 * Client side of the storage commands on one connection (spec §4.2): upload
 * (11), appender upload (23), slave upload (21), append (24), modify (34),
 * truncate (36), regenerate appender name (38), download (14), delete (12),
 * set/get metadata (13/15), query file info (22).
 *
 * Bodies are streamed from an async iterable of known size and downloads are
 * streamed into a Writable with backpressure: a file is never held in memory.
 * Used by FdfsClient and tests; callers own the connection (pool.with).
 */
import type { Writable } from 'node:stream'
import { FIELD, STORAGE_CMD as S } from '../protocol/constants.js'
import { fixed, getFixed, long } from '../protocol/header.js'
import { packMetadata, unpackMetadata, type MetaPair } from '../metadata.js'
import type { FdfsConnection } from './connection.js'
import { CLIENT_ERROR, FdfsError } from './errors.js'

/** Content to send: a small Buffer, or a stream with its exact size. */
export type Body = Buffer | { size: number; stream: AsyncIterable<Buffer | string> }

export interface UploadResult {
  group: string
  remote: string
}

export interface FileInfo {
  size: number
  createTimestamp: number
  crc32: number
  sourceIp: string
}

/** Progress callback: bytes done so far. */
export type Progress = (done: number) => void

const MAX_NAME_REPLY = FIELD.GROUP_NAME + 256
/** Buffer bodies up to this size are copied into the request's single write (bigger ones are written as they are). */
const INLINE_BODY = 64 * 1024

function sizeOf(b: Body): number {
  return Buffer.isBuffer(b) ? b.length : b.size
}

async function sendBody(c: FdfsConnection, b: Body, onProgress?: Progress): Promise<void> {
  if (Buffer.isBuffer(b)) {
    await c.write(b)
    onProgress?.(b.length)
  } else await c.pipeFrom(b.stream, b.size, onProgress)
}

function parseName(b: Buffer): UploadResult {
  if (b.length <= FIELD.GROUP_NAME) throw new FdfsError(CLIENT_ERROR.PROTOCOL, 22, `upload reply length ${b.length} invalid`)
  return { group: getFixed(b, 0, FIELD.GROUP_NAME), remote: b.toString('utf8', FIELD.GROUP_NAME) }
}

function extField(ext: string): Buffer {
  return fixed(ext, FIELD.FILE_EXT)
}

/** 11 / 23: upload a normal or appender file. */
export async function uploadFile(c: FdfsConnection, storePathIndex: number, ext: string, body: Body, appender = false, onProgress?: Progress): Promise<UploadResult> {
  const size = sizeOf(body)
  const head = Buffer.alloc(1 + 8 + FIELD.FILE_EXT)
  head[0] = storePathIndex & 0xff
  head.writeBigInt64BE(BigInt(size), 1)
  extField(ext).copy(head, 9)
  const cmd = appender ? S.UPLOAD_APPENDER_FILE : S.UPLOAD_FILE
  if (Buffer.isBuffer(body) && size <= INLINE_BODY) {
    // Header, fixed fields and a small body leave in one write: one segment, one
    // server wakeup, instead of a header segment followed by a body segment.
    await c.send(cmd, head.length + size, [head, body])
    onProgress?.(size)
  } else {
    await c.send(cmd, head.length + size, [head])
    await sendBody(c, body, onProgress)
  }
  return parseName(await c.recv(MAX_NAME_REPLY))
}

/** 21: upload a slave file next to `masterRemote` with `prefix` (e.g. `_big`). */
export async function uploadSlave(c: FdfsConnection, masterRemote: string, prefix: string, ext: string, body: Body, onProgress?: Progress): Promise<UploadResult> {
  const size = sizeOf(body)
  const master = Buffer.from(masterRemote)
  const head = Buffer.concat([long(master.length), long(size), fixed(prefix, FIELD.FILE_PREFIX), extField(ext), master])
  await c.send(S.UPLOAD_SLAVE_FILE, head.length + size, [head])
  await sendBody(c, body, onProgress)
  return parseName(await c.recv(MAX_NAME_REPLY))
}

/** 24: append to an appender file (remote name without group). */
export async function appendFile(c: FdfsConnection, remote: string, body: Body, onProgress?: Progress): Promise<void> {
  const size = sizeOf(body)
  const name = Buffer.from(remote)
  const head = Buffer.concat([long(name.length), long(size), name])
  await c.send(S.APPEND_FILE, head.length + size, [head])
  await sendBody(c, body, onProgress)
  await c.recv(0)
}

/** 34: overwrite bytes of an appender file at `offset`. */
export async function modifyFile(c: FdfsConnection, remote: string, offset: number, body: Body, onProgress?: Progress): Promise<void> {
  const size = sizeOf(body)
  const name = Buffer.from(remote)
  const head = Buffer.concat([long(name.length), long(offset), long(size), name])
  await c.send(S.MODIFY_FILE, head.length + size, [head])
  await sendBody(c, body, onProgress)
  await c.recv(0)
}

/** 36: truncate an appender file to `newSize`. */
export async function truncateFile(c: FdfsConnection, remote: string, newSize: number): Promise<void> {
  const name = Buffer.from(remote)
  await c.call(S.TRUNCATE_FILE, [long(name.length), long(newSize), name], 0)
}

/** 38: turn an appender file into a normal file name; returns the new id parts. */
export async function regenerateAppenderName(c: FdfsConnection, remote: string): Promise<UploadResult> {
  return parseName(await c.call(S.REGENERATE_APPENDER_FILENAME, [Buffer.from(remote)], MAX_NAME_REPLY))
}

/**
 * 14: stream `length` bytes (0 = to the end) from `offset` into `sink`.
 * Returns the number of bytes written. The sink is not ended.
 */
export async function downloadFile(c: FdfsConnection, group: string, remote: string, offset: number, length: number, sink: Writable, onProgress?: Progress): Promise<number> {
  await c.send(S.DOWNLOAD_FILE, 16 + FIELD.GROUP_NAME + Buffer.byteLength(remote), [long(offset), long(length), fixed(group, FIELD.GROUP_NAME), Buffer.from(remote)])
  const n = await c.recvHeader()
  let done = 0
  try {
    for await (const chunk of c.reader.body(n)) {
      done += chunk.length
      if (!sink.write(chunk)) await waitDrain(sink)
      onProgress?.(done)
    }
  } catch (e) {
    c.broken = true
    throw c.wrap(e)
  }
  return done
}

function waitDrain(w: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      w.off('error', onErr)
      resolve()
    }
    const onErr = (e: Error) => {
      w.off('drain', onDrain)
      reject(e)
    }
    w.once('drain', onDrain)
    w.once('error', onErr)
  })
}

/** 12: delete a file. */
export async function deleteFile(c: FdfsConnection, group: string, remote: string): Promise<void> {
  await c.call(S.DELETE_FILE, [fixed(group, FIELD.GROUP_NAME), Buffer.from(remote)], 0)
}

/** 13: set metadata; flag `O` overwrites, `M` merges. */
export async function setMetadata(c: FdfsConnection, group: string, remote: string, meta: readonly MetaPair[], flag: 'O' | 'M'): Promise<void> {
  const name = Buffer.from(remote)
  const packed = packMetadata(meta)
  await c.call(S.SET_METADATA, [long(name.length), long(packed.length), Buffer.from(flag), fixed(group, FIELD.GROUP_NAME), name, packed], 0)
}

/** 15: get metadata (empty list when the file has none). */
export async function getMetadata(c: FdfsConnection, group: string, remote: string): Promise<MetaPair[]> {
  return unpackMetadata(await c.call(S.GET_METADATA, [fixed(group, FIELD.GROUP_NAME), Buffer.from(remote)], 256 * 1024))
}

/** 22: size, create time, crc32 and source IP as the storage knows them. `flags` go in the header status byte. */
export async function queryFileInfo(c: FdfsConnection, group: string, remote: string, flags = 0): Promise<FileInfo> {
  const b = await c.call(S.QUERY_FILE_INFO, [fixed(group, FIELD.GROUP_NAME), Buffer.from(remote)], 70, undefined, flags)
  if (b.length !== 40 && b.length !== 70) throw new FdfsError(CLIENT_ERROR.PROTOCOL, 22, `file info reply length ${b.length} invalid`)
  return {
    size: Number(b.readBigInt64BE(0)),
    createTimestamp: Number(b.readBigInt64BE(8)),
    crc32: Number(b.readBigInt64BE(16)) >>> 0,
    sourceIp: getFixed(b, 24, b.length - 24),
  }
}
