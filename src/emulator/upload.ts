import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import busboy from 'busboy'
import type { EndPlLink } from '../client/wire.js'
import { ROOT_FOLDER_ID } from '../client/wire.js'
import type { StagedBlob } from './account.js'
import type { EmulatorContext } from './context.js'
import { injectLatency, sendInjectedError } from './fault-effects.js'
import { discard, sendHtml } from './http.js'
import { fileUrl } from './ids.js'
import { nameProblem } from './names.js'
import { discardStaged, stageStream } from './staging.js'
import { throttled } from './throttle.js'

/** A `file[]` part, staged on disk, or the reason it will not be stored. */
type Part = { filename: string; staged: StagedBlob } | { filename: string; skipped: string } | { filename: string; overflow: true }

interface ParsedUpload {
  parts: Part[]
  fields: Map<string, string>
  tooManyFiles: boolean
}

/** POST /upload.cgi?id=<id>: the upload node. Answers HTML (or a bare 302) like the real one. */
export async function handleUpload(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  ctx.stats.data.upload.requests += 1
  await injectLatency(ctx)
  if (req.method !== 'POST') return sendHtml(res, 405, 'Method Not Allowed')
  if (ctx.faults.strikes('errorRate')) {
    await discard(throttled(req, ctx.faults.current.bandwidthBytesPerSec)).catch(() => undefined)
    // The node's own refusals: a 502 or 504 comes from a gateway, which may have passed the
    // request on (the client counts the files as possibly stored, retry.ts).
    return sendInjectedError(ctx, res, ctx.faults.pick([500, 503]))
  }
  const id = url.searchParams.get('id') ?? ''
  if (!ctx.sessions.isUploadIdFresh(id)) return sendHtml(res, 404, 'Invalid upload id')
  const length = req.headers['content-length']
  if (length === undefined) return sendHtml(res, 411, 'Length Required')
  if (req.headers.authorization !== `Bearer ${ctx.config.apiKey}`) {
    ctx.stats.data.authFailures += 1
    return sendHtml(res, 401, 'Not authenticated')
  }
  const contentType = req.headers['content-type'] ?? ''
  if (!/^multipart\/form-data;/i.test(contentType)) return sendHtml(res, 400, 'multipart/form-data expected')
  // The C# SDK found the real node rejects a quoted boundary.
  if (/boundary="/i.test(contentType)) return sendHtml(res, 400, 'Invalid multipart boundary')
  if (Number(length) > ctx.config.uploadLimits.maxRequestSize) return sendHtml(res, 413, 'Upload too large', undefined, { Connection: 'close' })
  if (ctx.faults.strikes('uploadResetRate')) {
    ctx.stats.data.faultsInjected.uploadReset += 1
    return cutAfter(req, Math.floor((ctx.faults.draw() * Number(length)) / 2))
  }
  if (ctx.sessions.claimUploadId(id) !== 'claimed') return sendHtml(res, 404, 'Invalid upload id')

  let parsed: ParsedUpload
  try {
    parsed = await parseMultipart(ctx, req, contentType)
  } catch {
    ctx.sessions.releaseUploadId(id)
    if (!res.headersSent && !req.destroyed) sendHtml(res, 400, 'Malformed upload')
    return
  }
  const rejection = parsed.tooManyFiles ? 'Too many files' : parsed.parts.some((part) => 'overflow' in part) ? 'File too large' : undefined
  if (rejection) {
    await Promise.all(parsed.parts.map((part) => ('staged' in part ? discardStaged(part.staged) : undefined)))
    ctx.sessions.releaseUploadId(id)
    return sendHtml(res, 413, rejection)
  }
  const links = await store(ctx, parsed)
  ctx.sessions.finishUpload(id, links)
  if (ctx.faults.strikes('lostAnswerRate')) {
    // Stored, but the client never hears of it: only a listing (or end.pl) can tell.
    ctx.stats.data.faultsInjected.lostAnswer += 1
    req.socket.destroy()
    return
  }
  res.writeHead(302, { Location: `/end.pl?xid=${id}`, 'Content-Length': 0 })
  res.end()
}

/** Read `bytes` of the request's body, then destroy the connection (a reset mid-body). */
function cutAfter(req: IncomingMessage, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let read = 0
    const cut = () => {
      req.socket.destroy()
      resolve()
    }
    req.on('data', (chunk: Buffer) => {
      read += chunk.length
      if (read >= bytes) cut()
    })
    req.on('end', cut)
    req.on('close', () => resolve())
  })
}

/** Stream every `file[]` part to a temp file (hashing it on the way); nothing is buffered. */
async function parseMultipart(ctx: EmulatorContext, req: IncomingMessage, contentType: string): Promise<ParsedUpload> {
  const limits = ctx.config.uploadLimits
  // preservePath: a name with a slash must be refused, not silently cut to its last segment.
  const parser = busboy({ headers: { 'content-type': contentType }, preservePath: true, defParamCharset: 'utf8', limits: { files: limits.maxFiles } })
  const fields = new Map<string, string>()
  const pending: Array<Promise<Part>> = []
  let tooManyFiles = false
  parser.on('field', (name: string, value: string) => fields.set(name, value))
  parser.on('filesLimit', () => (tooManyFiles = true))
  parser.on('file', (name: string, stream: Readable, info: busboy.FileInfo) => {
    const filename = info.filename ?? ''
    const problem = nameProblem(filename, 'file')
    if (name !== 'file[]' || problem || tooManyFiles) {
      pending.push(discard(stream).then(() => ({ filename, skipped: problem ?? 'not a file[] part' })))
      return
    }
    pending.push(
      stageStream(stream, ctx.config.tmpDir, limits.maxFileSize).then(async (result): Promise<Part> => {
        if (result.overflow) return { filename, overflow: true }
        if (result.size === 0) {
          await discardStaged(result)
          return { filename, skipped: 'empty file' }
        }
        return { filename, staged: result }
      }),
    )
  })
  let failure: unknown
  try {
    await pipeline(throttled(req, ctx.faults.current.bandwidthBytesPerSec), parser)
  } catch (error) {
    failure = error ?? new Error('upload failed')
  }
  const settled = await Promise.allSettled(pending)
  const parts = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []))
  if (failure !== undefined || parts.length !== settled.length) {
    // Parts staged before the failure must not stay behind as temp files.
    await Promise.all(parts.map((part) => ('staged' in part ? discardStaged(part.staged) : undefined)))
    throw failure ?? new Error('an upload part failed')
  }
  return { parts, fields, tooManyFiles }
}

/** Commit staged parts into the destination folder, in request order. */
async function store(ctx: EmulatorContext, upload: ParsedUpload): Promise<EndPlLink[]> {
  const did = upload.fields.get('did') ?? ''
  const requested = /^\d+$/.test(did) ? Number(did) : ROOT_FOLDER_ID
  const folderId = ctx.account.folder(requested) ? requested : ROOT_FOLDER_ID
  const dpass = upload.fields.get('dpass') || null
  const links: EndPlLink[] = []
  // Summed over the whole account once per request, not once per part (500 parts per request).
  let used = ctx.account.usedBytes()
  for (const part of upload.parts) {
    if (!('staged' in part)) continue
    if (used + part.staged.size > ctx.config.quotaBytes) {
      await discardStaged(part.staged)
      continue
    }
    used += part.staged.size
    const file = await ctx.account.addFile(folderId, part.filename, part.staged, dpass)
    ctx.stats.data.upload.files += 1
    ctx.stats.data.upload.bytes += file.size
    links.push({ download: fileUrl(file.id), filename: file.filename, remove: '', size: String(file.size), whirlpool: file.whirlpool })
  }
  return links
}
