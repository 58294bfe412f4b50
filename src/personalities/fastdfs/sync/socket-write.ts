/**
 * Socket write helpers of the sync sender: header + file body with
 * backpressure. Called by peer-sender.ts.
 */
import type net from 'node:net'
import type { ReadHandle } from '../../../engine/blob/blob-store.js'
import { canSendFile, sendHeadAndFile } from '../../../engine/io/sendfile.js'

/**
 * Bodies above this size go out with sendfile(2) when the native addon is available. Why
 * 64 KiB: the same line as downloads (handlers-file.ts); smaller bodies come from memory
 * and leave with their header in one write.
 */
const ZERO_COPY_MIN = 64 * 1024

/**
 * Header + file body. Small bodies go out in the same write as the header (one segment,
 * no Nagle stall); large ones with sendfile(2) straight from the page cache when the addon
 * is there, else streamed with backpressure. The socket must not be corked. Rejects when
 * the body could not be sent whole (the caller drops the connection).
 */
export async function writeWithBody(sock: net.Socket, head: Buffer, body: ReadHandle, timeoutMs: number): Promise<void> {
  const n = body.end - body.start
  if (n > ZERO_COPY_MIN && body.fd !== undefined && canSendFile(sock)) {
    try {
      const sent = await sendHeadAndFile(sock, head, body.fd, body.start, n, timeoutMs)
      if (sent !== n) throw new Error(`sync body cut short at ${sent}/${n} (the file shrank)`)
    } finally {
      body.stream.destroy()
    }
    return
  }
  const chunks: Buffer[] = []
  let small = true
  for await (const c of body.stream as AsyncIterable<Buffer>) {
    if (small) {
      chunks.push(c)
      if (chunks.reduce((a, b) => a + b.length, 0) > 64 * 1024) {
        small = false
        if (!sock.write(Buffer.concat([head, ...chunks.splice(0)]))) await drain(sock)
      }
    } else if (!sock.write(c)) await drain(sock)
  }
  if (small) sock.write(Buffer.concat([head, ...chunks]))
}

/** Resolves on the next drain; rejects when the socket errors or closes first. */
export function drain(sock: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => {
      sock.off('drain', onDrain)
      reject(e)
    }
    const onDrain = () => {
      sock.off('error', onErr)
      resolve()
    }
    sock.once('drain', onDrain)
    sock.once('error', onErr)
    sock.once('close', () => onErr(new Error('closed')))
  })
}
