import { createReadStream } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FileRecord } from './account.js'
import type { EmulatorContext } from './context.js'
import { injectLatency, sendInjectedError } from './fault-effects.js'
import { sendHtml, waitForDrain } from './http.js'
import { parseRange, type ByteRange } from './range.js'
import { throttled } from './throttle.js'

/** GET/HEAD /<letter><digits>: a token URL from get_token. No key needed (nor wanted). */
export async function handleDownload(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
  const stats = ctx.stats.data.download
  stats.requests += 1
  if (req.headers.authorization !== undefined) stats.authHeaderSeen += 1
  await injectLatency(ctx)
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendHtml(res, 405, 'Method Not Allowed')
  if (ctx.faults.strikes('errorRate')) return sendInjectedError(ctx, res, 503)
  const grant = ctx.sessions.useToken(token)
  const file = grant && ctx.account.file(grant.fileId)
  if (!grant || !file) return sendHtml(res, 410, 'Link expired', '<h1>Link expired</h1><p>This download link is no longer valid. Please request a new one.</p>')

  const range = parseRange(req.headers.range, file.size)
  const common = {
    'Accept-Ranges': 'bytes',
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': contentDisposition(file.filename, grant.inline),
  }
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'Content-Range': `bytes */${file.size}`, 'Content-Length': 0 })
    return void res.end()
  }
  const span: ByteRange = range ?? { start: 0, end: file.size - 1 }
  const length = span.end - span.start + 1
  const headers: Record<string, string | number> = { ...common, 'Content-Length': length }
  if (range) headers['Content-Range'] = `bytes ${span.start}-${span.end}/${file.size}`
  res.writeHead(range ? 206 : 200, headers)
  if (req.method === 'HEAD' || length <= 0) return void res.end()
  await streamBody(ctx, res, file, span, length)
}

/** ASCII name plus the RFC 5987 form, since header values cannot carry raw UTF-8 in Node. */
function contentDisposition(filename: string, inline: boolean): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_')
  const base = `${inline ? 'inline' : 'attachment'}; filename="${ascii}"`
  return ascii === filename ? base : `${base}; filename*=UTF-8''${encodeURIComponent(filename)}`
}

/** Stream from disk with backpressure, throttled and possibly cut short (faults). */
async function streamBody(ctx: EmulatorContext, res: ServerResponse, file: FileRecord, span: ByteRange, length: number): Promise<void> {
  const stats = ctx.stats.data.download
  const cutoff = ctx.faults.strikes('resetRate') ? Math.floor(ctx.faults.draw() * length) : undefined
  if (cutoff !== undefined) ctx.stats.data.faultsInjected.reset += 1
  const source = createReadStream(ctx.account.blobPath(file.blobId), { start: span.start, end: span.end })
  const rate = ctx.faults.current.bandwidthBytesPerSec
  const body = throttled(source, rate)
  let sent = 0
  // Active until the body is sent or the client has gone (not until the next write finds out).
  ctx.stats.downloadStarted()
  let counted = true
  const ended = () => {
    if (!counted) return
    counted = false
    ctx.stats.downloadEnded()
  }
  res.once('close', ended)
  try {
    res.flushHeaders()
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (cutoff !== undefined && sent + chunk.length >= cutoff) {
        const piece = chunk.subarray(0, cutoff - sent)
        stats.bytes += piece.length
        if (piece.length > 0) await new Promise<void>((resolve) => res.write(piece, () => resolve()))
        res.destroy()
        return
      }
      sent += chunk.length
      stats.bytes += chunk.length
      if (!res.write(chunk) && !(await waitForDrain(res))) return
    }
    res.end()
  } catch {
    res.destroy()
  } finally {
    ended()
    source.destroy()
  }
}
