/**
 * Downloads: a download link per file (download/get_token.cgi), shared by every read of the
 * file while it is young (also after a restart, through a LinkStore), and ranged GETs on it
 * that resume where a body breaks. The key never goes to a download host.
 */
import { Readable } from 'node:stream'
import type { ApiCaller } from './api-call.js'
import { badResponse, readSnippet } from './convert.js'
import { ApiErrorCodes, FichierApiError } from './errors.js'
import { transportError, type HttpTransport } from './http.js'
import type { LinkStore } from './link-store.js'
import { checkDownloadUrl, type TrustPolicy } from './trust.js'
import type { RangeResponse } from './types.js'
import { API_PATHS, type GetTokenRequest, type GetTokenResponse } from './wire.js'

export interface DownloadOptions {
  /** Reuse a download link this long (1fichier's links live 5 minutes). */
  linkLifetimeMs: number
  /** Attempts of one ranged download (resuming where it broke) before it fails. */
  downloadAttempts: number
  downloadRetryDelayMs: number
  /** Keeps links beyond this process (a remount reuses those still young). */
  linkStore?: LinkStore
}

export class Downloads {
  private readonly links = new Map<string, { link: Promise<string>; obtainedAt: number }>()
  private readonly counters = { linkRequests: 0, downloadResumes: 0 }

  constructor(
    private readonly api: ApiCaller,
    private readonly http: HttpTransport,
    private readonly policy: TrustPolicy,
    private readonly options: DownloadOptions,
  ) {}

  /** Download-side counters (link requests, resumed bodies). */
  stats(): { linkRequests: number; downloadResumes: number } {
    return { ...this.counters }
  }

  /**
   * download/get_token.cgi. `single: false` asks for a link that serves many requests while it
   * is valid (5 minutes), so one link can serve every ranged read of a file.
   */
  async downloadLink(fileUrl: string, options: { single?: boolean; password?: string } = {}): Promise<string> {
    const body: GetTokenRequest = { url: fileUrl, single: options.single === false ? 0 : 1 }
    if (options.password) body.pass = options.password
    const answer = await this.api.call<GetTokenResponse>(API_PATHS.getToken, body)
    if (typeof answer.url !== 'string' || !answer.url) throw badResponse(API_PATHS.getToken, 'no url in the answer')
    return checkDownloadUrl(answer.url, this.policy).href
  }

  /**
   * GET a byte range of a download link, without the API key. `end` is inclusive; omit it to
   * read to the end. A 4xx from the download host means the link is no longer good.
   */
  async openRange(link: string, start: number, end?: number, signal?: AbortSignal): Promise<RangeResponse> {
    const url = checkDownloadUrl(link, this.policy)
    const response = await this.http.send({
      method: 'GET', url: url.href, label: 'download', signal,
      headers: { range: `bytes=${start}-${end === undefined ? '' : end}` },
    })
    if (response.status === 206 || response.status === 200) {
      const length = Number(response.headers['content-length'] ?? NaN)
      const range = parseContentRange(response.headers['content-range'])
      if (response.status === 206 && range && range.start !== start) {
        await response.dump()
        throw badResponse('download', `asked for byte ${start}, got ${range.start}`)
      }
      if (response.status === 200 && start > 0) {
        // The host ignored Range: skip to the wanted offset rather than fail.
        const total = Number.isFinite(length) ? length : undefined
        const want = (end === undefined ? (total ?? Infinity) - 1 : end) - start + 1
        return { body: skipBytes(response.body, start, want), length: want, totalSize: total }
      }
      return { body: response.body, length: Number.isFinite(length) ? length : NaN, totalSize: range?.total ?? (response.status === 200 ? length : undefined) }
    }
    const text = await readSnippet(response)
    if (response.status === 416) {
      throw new FichierApiError(ApiErrorCodes.rangeNotSatisfiable, `download: range ${start}- not satisfiable`, { endpoint: 'download', httpStatus: 416, errno: 'EINVAL' })
    }
    if (response.status >= 400 && response.status < 500) {
      throw new FichierApiError(ApiErrorCodes.downloadLinkRejected, `download link refused (HTTP ${response.status}${text ? `: ${text}` : ''})`, {
        endpoint: 'download', httpStatus: response.status, errno: 'EIO',
      })
    }
    throw new FichierApiError(ApiErrorCodes.http, `download host answered HTTP ${response.status}`, { endpoint: 'download', httpStatus: response.status })
  }

  /**
   * Bytes `start`..`end` (inclusive) of a file, as a stream of chunks. The download link is
   * shared by every read of the file while it is young (get_token with single:0), so seeking
   * costs no API call; a refused link is renewed once; a body that breaks resumes from the
   * byte where it broke.
   */
  async *readRange(fileUrl: string, start: number, end: number, options: { signal?: AbortSignal; password?: string } = {}): AsyncGenerator<Buffer> {
    let offset = start
    let attempts = 0
    let renewed = false
    while (offset <= end) {
      // An API call: the pacer has retried it as long as it is worth (an outage is not
      // retried here once more per attempt: a read must fail within its bound).
      const link = await this.sharedLink(fileUrl, options.password)
      try {
        const response = await this.openRange(link, offset, end, options.signal)
        try {
          for await (const chunk of response.body as AsyncIterable<Buffer>) {
            const piece = chunk.length > end - offset + 1 ? chunk.subarray(0, end - offset + 1) : chunk
            offset += piece.length
            yield piece
            if (offset > end) break
          }
        } catch (error) {
          throw transportError('download', error)
        } finally {
          response.body.destroy()
        }
        if (offset <= end) throw new FichierApiError(ApiErrorCodes.network, 'download: body ended early', { endpoint: 'download' })
      } catch (error) {
        if (options.signal?.aborted) throw error
        const code = error instanceof FichierApiError ? error.code : undefined
        if (code === ApiErrorCodes.downloadLinkRejected && !renewed) {
          renewed = true
          this.forgetLink(fileUrl)
          continue
        }
        const transient = code === ApiErrorCodes.network || code === ApiErrorCodes.timeout || code === ApiErrorCodes.badResponse ||
          code === ApiErrorCodes.downloadLinkRejected || (code === ApiErrorCodes.http && ((error as FichierApiError).httpStatus ?? 0) >= 500)
        if (!transient || ++attempts >= this.options.downloadAttempts) throw error
        if (code === ApiErrorCodes.downloadLinkRejected) this.forgetLink(fileUrl)
        this.counters.downloadResumes++
        await new Promise((resolve) => setTimeout(resolve, this.options.downloadRetryDelayMs * attempts))
      }
    }
  }

  /** Forget a file's download link (it was deleted or replaced). */
  forgetLink(fileUrl: string): void {
    this.links.delete(fileUrl)
    this.options.linkStore?.delete(fileUrl)
  }

  private sharedLink(fileUrl: string, password?: string): Promise<string> {
    const young = (obtainedAt: number) => Date.now() - obtainedAt < this.options.linkLifetimeMs
    const known = this.links.get(fileUrl)
    if (known && young(known.obtainedAt)) return known.link
    const stored = this.options.linkStore?.get(fileUrl)
    if (stored && young(stored.obtainedAt)) {
      const entry = { link: Promise.resolve(stored.link), obtainedAt: stored.obtainedAt }
      this.links.set(fileUrl, entry)
      return entry.link
    }
    this.counters.linkRequests++
    const entry = { link: this.downloadLink(fileUrl, { single: false, password }), obtainedAt: Date.now() }
    this.links.set(fileUrl, entry)
    entry.link.then(
      (link) => {
        if (this.links.get(fileUrl) === entry) this.options.linkStore?.set(fileUrl, { link, obtainedAt: entry.obtainedAt })
      },
      () => {
        if (this.links.get(fileUrl) === entry) this.links.delete(fileUrl)
      },
    )
    return entry.link
  }
}

function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  const match = value?.match(/bytes\s+(\d+)-(\d+)\/(\d+|\*)/i)
  if (!match) return undefined
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? undefined : Number(match[3]) }
}

function skipBytes(body: Readable, skip: number, want: number): Readable {
  async function* generate() {
    let toSkip = skip
    let left = want
    for await (const chunk of body as AsyncIterable<Buffer>) {
      let piece = chunk
      if (toSkip > 0) {
        if (piece.length <= toSkip) {
          toSkip -= piece.length
          continue
        }
        piece = piece.subarray(toSkip)
        toSkip = 0
      }
      if (piece.length > left) piece = piece.subarray(0, left)
      left -= piece.length
      if (piece.length > 0) yield piece
      if (left <= 0) break
    }
    body.destroy()
  }
  return Readable.from(generate(), { objectMode: false })
}

