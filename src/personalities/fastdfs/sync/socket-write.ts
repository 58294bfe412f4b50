/**
 * Socket write helpers of the sync sender: header + file body with
 * backpressure. Called by peer-sender.ts.
 */
import type net from 'node:net'
import type { ReadHandle } from '../../../engine/blob/blob-store.js'

/** Small bodies go out in the same write as the header (one segment, no Nagle stall). */
export async function writeWithBody(sock: net.Socket, head: Buffer, body: ReadHandle): Promise<void> {
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
