/**
 * Uploads, end to end: get_upload_server.cgi, a multipart POST of up to 500 files to the node
 * it names (streamed, with the exact Content-Length 1fichier requires, hashed on the way), and
 * end.pl's report, matched file by file. Nothing counts as uploaded unless the report names it
 * with the right size (and Whirlpool, when given).
 */
import { Readable } from 'node:stream'
import type { ApiCaller } from './api-call.js'
import { badResponse, readSnippet, parseJson, toNumber } from './convert.js'
import { ApiErrorCodes, errorFromAnswer, FichierApiError } from './errors.js'
import { transportError, type HttpResponse, type HttpTransport } from './http.js'
import { uploadMayHaveArrived } from './retry.js'
import { encodeForService, encodeName } from './names.js'
import { uploadOrigin, type TrustPolicy } from './trust.js'
import type { UploadResult, UploadSource } from './types.js'
import { createWhirlpoolHasher, whirlpoolOfFile } from './whirlpool.js'
import { API_PATHS, END_PATH, LIMITS, UPLOAD_PATH, type EndPlLink, type EndPlResponse, type UploadServerResponse } from './wire.js'

export interface UploadOptions {
  /** Upload attempts (each with a fresh upload node) before giving up. */
  uploadAttempts: number
  /** Compute Whirlpool while uploading and compare with the service's report. */
  verifyUploads: boolean
  /** Waits between end.pl polls when it answers HTML, in ms. */
  endPollDelaysMs: number[]
  /** Back-off before another upload attempt, in ms (scaled down in tests). */
  uploadRetryDelayMs: number
  /** Longest silence while an upload is sent and before its answer. */
  uploadSilenceMs: number
}

export class Uploads {
  constructor(
    private readonly api: ApiCaller,
    private readonly http: HttpTransport,
    private readonly apiKey: string,
    private readonly policy: TrustPolicy,
    private readonly options: UploadOptions,
    /** file/rm, for copies that arrived damaged. */
    private readonly removeFiles: (urls: string[]) => Promise<number>,
  ) {}

  /**
   * Upload files into a folder in one request (get_upload_server, upload.cgi, end.pl). Failed
   * attempts that cannot have left a copy on 1fichier (a 5xx answer, a reset or a stall before
   * the body's last bytes, no upload node) are retried on a fresh upload node. A failure after
   * the last bytes (retry.ts uploadMayHaveArrived: no answer, a gateway's 502 or 504, no
   * report) is not: the files may be there, and only the caller can look for them before
   * sending them again (the uploader lists the folder). Files the
   * service did not confirm are returned in `failed`, never in `uploaded`.
   */
  async upload(folderId: number, sources: UploadSource[], options: { onProgress?: (bytesSent: number) => void; signal?: AbortSignal } = {}): Promise<UploadResult> {
    this.checkUpload(sources)
    let lastError: unknown
    for (let attempt = 1; attempt <= this.options.uploadAttempts; attempt++) {
      try {
        return await this.uploadOnce(folderId, sources, options)
      } catch (error) {
        lastError = error
        const retryable = error instanceof FichierApiError && !uploadMayHaveArrived(error) &&
          [ApiErrorCodes.network, ApiErrorCodes.timeout, ApiErrorCodes.http, ApiErrorCodes.badResponse, ApiErrorCodes.uploadFailed].includes(error.code as never)
        if (!retryable || attempt === this.options.uploadAttempts || options.signal?.aborted) throw error
        await new Promise((resolve) => setTimeout(resolve, this.options.uploadRetryDelayMs * attempt))
      }
    }
    throw lastError
  }

  private checkUpload(sources: UploadSource[]): void {
    if (sources.length === 0) throw new FichierApiError(ApiErrorCodes.uploadFailed, 'nothing to upload', { endpoint: 'upload', errno: 'EINVAL' })
    if (sources.length > LIMITS.maxFilesPerUpload) {
      throw new FichierApiError(ApiErrorCodes.tooLarge, `at most ${LIMITS.maxFilesPerUpload} files per upload`, { endpoint: 'upload', errno: 'EINVAL' })
    }
    let total = 0
    for (const source of sources) {
      if (source.size <= 0) throw new FichierApiError(ApiErrorCodes.uploadFailed, `1fichier refuses empty files (${source.name})`, { endpoint: 'upload', errno: 'EINVAL' })
      if (source.size > LIMITS.maxFileSize) throw new FichierApiError(ApiErrorCodes.tooLarge, `${source.name} is over 1fichier's 300 GB limit`, { endpoint: 'upload', errno: 'EFBIG' })
      encodeForService(source.name, 'file')
      total += source.size
    }
    if (total > LIMITS.maxRequestSize) throw new FichierApiError(ApiErrorCodes.tooLarge, 'over 500 GB in one upload request', { endpoint: 'upload', errno: 'EFBIG' })
  }

  private async uploadOnce(folderId: number, sources: UploadSource[], options: { onProgress?: (bytesSent: number) => void; signal?: AbortSignal }): Promise<UploadResult> {
    let multipart: Multipart | undefined
    try {
      const node = await this.uploadNode()
      const names = sources.map((source) => encodeName(source.name))
      multipart = buildMultipart(folderId, sources, names, { hash: this.options.verifyUploads, onProgress: options.onProgress })
      return await this.send(node, sources, names, multipart, options.signal)
    } catch (error) {
      // Where it failed decides whether another attempt could make a second copy (upload()).
      if (error instanceof FichierApiError) error.uploadBodyEnded = multipart?.ended() ?? false
      throw error
    }
  }

  /** get_upload_server.cgi: the node to send to, and the upload's id. */
  private async uploadNode(): Promise<{ origin: URL; id: string }> {
    const server = await this.api.call<UploadServerResponse>(API_PATHS.getUploadServer, undefined, {}, { method: 'GET' })
    const origin = uploadOrigin(String(server.url ?? ''), this.policy)
    const id = String(server.id ?? '')
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw badResponse(API_PATHS.getUploadServer, 'invalid upload id')
    return { origin, id }
  }

  /** upload.cgi, then end.pl's report matched to the sources. */
  private async send({ origin, id }: { origin: URL; id: string }, sources: UploadSource[], names: string[], multipart: Multipart, signal?: AbortSignal): Promise<UploadResult> {
    const response = await this.http.send({
      method: 'POST',
      url: `${origin.origin}${UPLOAD_PATH}?id=${encodeURIComponent(id)}`,
      label: 'upload',
      signal,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        // The service refuses a quoted boundary (C# SDK note).
        'content-type': `multipart/form-data; boundary=${multipart.boundary}`,
        'content-length': String(multipart.length),
      },
      body: multipart.body,
      // undici restarts this clock whenever a write fills the socket and once the body is sent,
      // so it bounds silence, not the upload's length: a node stalled mid-body is retried (upload()).
      headersTimeoutMs: this.options.uploadSilenceMs,
    })
    const text = await readSnippet(response)
    if (response.status >= 400) throw errorFromAnswer('upload', response.status, text)
    if (response.status !== 302 && response.status !== 303 && response.status !== 200) {
      throw new FichierApiError(ApiErrorCodes.uploadFailed, `upload node answered HTTP ${response.status}`, { endpoint: 'upload', httpStatus: response.status })
    }
    const links = await this.fetchUploadReport(origin, id)
    return this.matchLinks(sources, names, links, multipart.hashes)
  }

  /** end.pl?xid=: JSON with the `JSON: 1` header; when it answers HTML anyway, poll, then read the HTML. */
  private async fetchUploadReport(origin: URL, id: string): Promise<ReportLink[]> {
    let lastHtml = ''
    for (let poll = 0; poll <= this.options.endPollDelaysMs.length; poll++) {
      if (poll > 0) await new Promise((resolve) => setTimeout(resolve, this.options.endPollDelaysMs[poll - 1]))
      let response: HttpResponse
      try {
        response = await this.http.send({
          method: 'GET', url: `${origin.origin}${END_PATH}?xid=${encodeURIComponent(id)}`, label: 'end.pl',
          headers: { json: '1', authorization: `Bearer ${this.apiKey}` },
        })
      } catch (error) {
        if (poll === this.options.endPollDelaysMs.length) throw error
        continue
      }
      const text = await response.text().catch((error: unknown) => { throw transportError('end.pl', error) })
      if (response.status >= 500) continue
      const report = parseJson(text) as Partial<EndPlResponse> | undefined
      if (report && Array.isArray(report.links)) return report.links.map(fromEndLink)
      lastHtml = text
    }
    const fromHtml = parseLinksFromHtml(lastHtml)
    if (fromHtml.length > 0) return fromHtml
    throw new FichierApiError(ApiErrorCodes.uploadFailed, 'end.pl never reported the uploaded files', { endpoint: 'end.pl' })
  }

  private async matchLinks(sources: UploadSource[], names: string[], links: ReportLink[], hashes: Promise<string>[]): Promise<UploadResult> {
    const result: UploadResult = { uploaded: [], failed: [] }
    const unused = [...links]
    const corrupt: string[] = []
    for (const [index, source] of sources.entries()) {
      // 1fichier may have the file whatever our hashing did: a failure here is one after the
      // last byte (the uploader looks for the copy before sending it again), never a plain error.
      const local = await (hashes[index] as Promise<string>).catch((error: unknown) => {
        throw new FichierApiError(ApiErrorCodes.uploadFailed, `could not hash ${source.name} to check what 1fichier stored: ${(error as Error).message}`, { endpoint: 'end.pl', cause: error })
      })
      const byName = unused.findIndex((link) => link.filename === names[index] && (link.size === undefined || link.size === source.size))
      // An HTML report may lack names: fall back to the order of the links.
      const at = byName >= 0 ? byName : (links.every((link) => link.filename === undefined) ? 0 : -1)
      const link = at >= 0 ? unused.splice(at, 1)[0] : undefined
      if (!link) {
        result.failed.push({ name: source.name, error: new FichierApiError(ApiErrorCodes.uploadFailed, `1fichier did not confirm ${source.name}`, { endpoint: 'end.pl' }) })
        continue
      }
      if (link.size !== undefined && link.size !== source.size) {
        corrupt.push(link.download)
        result.failed.push({ name: source.name, error: new FichierApiError(ApiErrorCodes.uploadCorrupt, `1fichier stored ${link.size} bytes of ${source.name}, expected ${source.size}`, { endpoint: 'end.pl' }) })
        continue
      }
      if (local && link.whirlpool && link.whirlpool.toLowerCase() !== local) {
        corrupt.push(link.download)
        result.failed.push({ name: source.name, error: new FichierApiError(ApiErrorCodes.uploadCorrupt, `checksum mismatch after uploading ${source.name}`, { endpoint: 'end.pl' }) })
        continue
      }
      result.uploaded.push({
        name: source.name, url: link.download, size: source.size,
        whirlpool: (link.whirlpool || local || '').toLowerCase(),
        confirmedByService: link.whirlpool !== undefined,
      })
    }
    // A copy that arrived damaged must not linger next to the retry.
    if (corrupt.length > 0) await this.removeFiles(corrupt).catch(() => undefined)
    return result
  }
}

interface ReportLink {
  download: string
  filename?: string
  size?: number
  whirlpool?: string
}

function fromEndLink(link: Partial<EndPlLink>): ReportLink {
  return {
    download: String(link.download ?? ''),
    filename: link.filename === undefined ? undefined : String(link.filename),
    size: toNumber(link.size),
    whirlpool: link.whirlpool ? String(link.whirlpool) : undefined,
  }
}

/** The HTML report ("Upload finished" and a table of links): take the file URLs in order. */
export function parseLinksFromHtml(html: string): ReportLink[] {
  const seen = new Set<string>()
  const links: ReportLink[] = []
  for (const match of html.matchAll(/https:\/\/(?:www\.)?1fichier\.com\/\?[a-z0-9]{5,20}/gi)) {
    const url = match[0]
    if (!seen.has(url)) {
      seen.add(url)
      links.push({ download: url })
    }
  }
  return links
}

/** Below this, hashing inline costs less than starting a worker. */
const WORKER_HASH_MIN_BYTES = 8 << 20

interface Multipart {
  boundary: string
  length: number
  body: Readable
  /** One Whirlpool per source, resolved once its bytes have been sent ('' when not hashing). */
  hashes: Promise<string>[]
  /**
   * Whether the body's last bytes (the closing boundary) were produced. Until then the node
   * cannot have the whole request, and 1fichier stores the files only once it has it.
   */
  ended(): boolean
}

/**
 * The multipart body, streamed from the sources, with its exact length computed up front
 * (1fichier requires Content-Length). Text fields come first, as Go's writer puts them.
 */
export function buildMultipart(folderId: number, sources: UploadSource[], names: string[], options: { hash: boolean; onProgress?: (bytes: number) => void }): Multipart {
  const boundary = `----fichfs${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="did"\r\n\r\n${folderId}\r\n`)
  const partHeads = names.map((name) => Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file[]"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  ))
  const crlf = Buffer.from('\r\n')
  const tail = Buffer.from(`--${boundary}--\r\n`)
  const length = head.length + tail.length + sources.reduce((sum, source, index) => sum + (partHeads[index]?.length ?? 0) + source.size + crlf.length, 0)

  const resolvers: Array<(hash: string) => void> = []
  const rejecters: Array<(error: unknown) => void> = []
  const hashes = sources.map(() => new Promise<string>((resolve, reject) => {
    resolvers.push(resolve)
    rejecters.push(reject)
  }))
  for (const promise of hashes) promise.catch(() => undefined)

  let ended = false
  async function* generate(): AsyncGenerator<Buffer> {
    let sent = 0
    try {
      yield head
      for (const [index, source] of sources.entries()) {
        yield partHeads[index] as Buffer
        // A digest computed as the file was written is taken as is; large files on disk are
        // hashed in a worker, beside the upload; the rest inline.
        const known = options.hash ? source.whirlpool : undefined
        const inWorker = known !== undefined || (options.hash && source.path !== undefined && source.size >= WORKER_HASH_MIN_BYTES)
        if (inWorker) {
          (known && source.path ? known.catch(() => whirlpoolOfFile(source.path as string)) : known ?? whirlpoolOfFile(source.path as string)).then((digest) => resolvers[index]?.(digest), (error: unknown) => rejecters[index]?.(error))
        }
        // Native (OpenSSL) when available; hash-wasm is loaded only without it (whirlpool.ts).
        const hasher = options.hash && !inWorker ? await createWhirlpoolHasher() : undefined
        let bytes = 0
        for await (const chunk of source.open() as AsyncIterable<Buffer>) {
          bytes += chunk.length
          if (bytes > source.size) throw new Error(`${source.name} grew while uploading`)
          hasher?.update(chunk)
          sent += chunk.length
          options.onProgress?.(sent)
          yield chunk
        }
        if (bytes !== source.size) throw new Error(`${source.name} changed size while uploading (${bytes} of ${source.size} bytes)`)
        if (!inWorker) resolvers[index]?.(hasher ? hasher.digest() : '')
        yield crlf
      }
      ended = true
      yield tail
    } catch (error) {
      for (const reject of rejecters) reject(error)
      throw error
    }
  }
  return { boundary, length, body: Readable.from(generate(), { objectMode: false }), hashes, ended: () => ended }
}
