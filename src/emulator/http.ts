import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The caller's address, with IPv4-mapped IPv6 folded so one client has one key. */
export function clientIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown'
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.')
}

/** JSON with the headers nginx puts in front of the real API. `pretty` indents like Perl's JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown, pretty = false): void {
  const text = pretty ? JSON.stringify(body, null, 3) + '\n' : JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function htmlPage(title: string, bodyHtml: string): string {
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>${bodyHtml}</body></html>\n`
}

export function sendHtml(res: ServerResponse, status: number, title: string, bodyHtml = `<h1>${escapeHtml(title)}</h1>`, headers: Record<string, string> = {}): void {
  const text = htmlPage(title, bodyHtml)
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}

export class BodyTooLargeError extends Error {}

/** Read a small request body (API JSON); refuses more than `limit` bytes. */
export async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      req.resume()
      throw new BodyTooLargeError('request body too large')
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** Consume and forget a body (a failed upload still reads what the client sends). */
export async function discard(stream: Readable): Promise<void> {
  for await (const chunk of stream) void chunk
}

/** Wait until `res` can take more data; false if the connection went away meanwhile. */
export function waitForDrain(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false)
  return new Promise((resolve) => {
    const settle = (drained: boolean) => () => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(drained)
    }
    const onDrain = settle(true)
    const onClose = settle(false)
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}
