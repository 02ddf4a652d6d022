/**
 * The 1fichier API client: one method per endpoint, written for the real service
 * (shared/1fichier-api.md), tolerant where the doc is unsure (numbers as strings, a missing
 * `status`, a listing without `items`, end.pl answering HTML).
 *
 * Every API-host call goes through the shared Pacer. Names cross this boundary decoded: callers
 * speak local names, the wire carries rclone-compatible encoded names.
 */
import { Readable } from 'node:stream'
import { parseApiDate } from './dates.js'
import { ApiErrorCodes, errorFromAnswer, FichierApiError } from './errors.js'
import { HttpTransport, transportError, type HttpResponse } from './http.js'
import { fileIdFromUrl } from './ids.js'
import { whirlpoolOfFile } from './whirlpool.js'
import { decodeName, encodeName } from './names.js'
import { Pacer, type CallGate } from './pacer.js'
import { checkDownloadUrl, trustPolicy, uploadOrigin, type TrustPolicy } from './trust.js'
import type {
  AccountInfo, FileAttributes, FileDetails, FolderListing, RangeResponse, RemoteFile, RemoteFolder,
  RemoteUploadRequest, RemoteUploadStatus, UploadResult, UploadSource,
} from './types.js'
import {
  API_PATHS, END_PATH, LIMITS, UPLOAD_PATH,
  type ApiPath, type EndPlLink, type FileCpRequest, type FileInfoRequest, type FileLsRequest, type FileMvRequest,
  type FileRenameRequest, type FileRmRequest, type FolderLsRequest, type FolderMkdirRequest, type FolderRmRequest,
  type GetTokenRequest, type RemoteInfoRequest, type RemoteRequestRequest, type EndPlResponse, type FileChattrRequest, type FileChattrResponse, type FileCpResponse,
  type FileInfoResponse, type FileItem, type FileLsResponse, type FileMvResponse, type FileRenameResponse,
  type FileRmResponse, type FolderLsResponse, type FolderMkdirResponse, type FolderMvRequest, type FolderMvResponse,
  type GetTokenResponse, type RemoteInfoResponse, type RemoteLsResponse, type RemoteRequestResponse,
  type StatusEnvelope, type SubFolder, type UploadServerResponse, type UserInfoResponse,
} from './wire.js'

export interface FichierClientOptions {
  apiKey: string
  /** API base URL; default https://api.1fichier.com/v1. */
  endpoint?: string
  pacer?: Pacer
  http?: HttpTransport
  /** Upload attempts (each with a fresh upload node) before giving up. */
  uploadAttempts?: number
  /** Compute Whirlpool while uploading and compare with the service's report. */
  verifyUploads?: boolean
  /** Waits between end.pl polls when it answers HTML, in ms. */
  endPollDelaysMs?: number[]
  /** Back-off before another upload attempt, in ms (scaled down in tests). */
  uploadRetryDelayMs?: number
  /** Longest silence while an upload is sent and before its answer (default 10 min). */
  uploadSilenceMs?: number
  /** Reuse a download link this long (1fichier's links live 5 minutes). */
  linkLifetimeMs?: number
  /** Attempts of one ranged download (resuming where it broke) before it fails. */
  downloadAttempts?: number
  downloadRetryDelayMs?: number
}

/** The longest file name we send (one TS client truncates at 255; the service says nothing). */
export const MAX_NAME_BYTES = 255
type Json = Record<string, unknown>

export class FichierClient {
  readonly pacer: Pacer
  private readonly http: HttpTransport
  private readonly apiKey: string
  private readonly policy: TrustPolicy
  private readonly base: string
  private readonly uploadAttempts: number
  private readonly verifyUploads: boolean
  private readonly endPollDelaysMs: number[]
  private readonly uploadRetryDelayMs: number
  private readonly uploadSilenceMs: number
  private readonly linkLifetimeMs: number
  private readonly downloadAttempts: number
  private readonly downloadRetryDelayMs: number
  private readonly links = new Map<string, { link: Promise<string>; obtainedAt: number }>()
  private readonly counters = { linkRequests: 0, downloadResumes: 0 }

  constructor(options: FichierClientOptions) {
    if (!options.apiKey) throw new FichierApiError(ApiErrorCodes.auth, 'no API key configured', { endpoint: 'config', errno: 'EACCES' })
    this.apiKey = options.apiKey
    this.policy = trustPolicy(options.endpoint)
    this.base = this.policy.endpoint.href.replace(/\/+$/, '')
    this.pacer = options.pacer ?? new Pacer()
    this.http = options.http ?? new HttpTransport()
    this.uploadAttempts = options.uploadAttempts ?? 3
    this.verifyUploads = options.verifyUploads ?? true
    this.endPollDelaysMs = options.endPollDelaysMs ?? [250, 500, 1000, 2000, 4000]
    this.uploadRetryDelayMs = options.uploadRetryDelayMs ?? 2000
    this.uploadSilenceMs = options.uploadSilenceMs ?? 10 * 60_000
    this.linkLifetimeMs = options.linkLifetimeMs ?? 4 * 60_000
    this.downloadAttempts = options.downloadAttempts ?? 6
    this.downloadRetryDelayMs = options.downloadRetryDelayMs ?? 500
  }

  /** Download-side counters (link requests, resumed bodies). */
  downloadStats(): { linkRequests: number; downloadResumes: number } {
    return { ...this.counters }
  }

  async close(): Promise<void> {
    await this.http.close()
  }

  // -------------------------------------------------------------------------------------------
  // Account

  async accountInfo(): Promise<AccountInfo> {
    // rclone sends user/info with no body at all (but the JSON content type).
    const info = await this.call<UserInfoResponse>(API_PATHS.userInfo, undefined, { userInfo: true })
    const usedBytes = toNumber(info.cold_storage) ?? 0
    const quotaBytes = toNumber(info.available_cold_storage) ?? 0
    return {
      email: String(info.email ?? ''),
      offer: toNumber(info.offer) ?? 0,
      usedBytes,
      quotaBytes,
      freeBytes: Math.max(0, quotaBytes - usedBytes),
      subscriptionEnd: info.subscription_end ? String(info.subscription_end) : undefined,
    }
  }

  // -------------------------------------------------------------------------------------------
  // Folders

  /** folder/ls.cgi with `files:1`: sub-folders and (when the service honours it) files. */
  async listFolder(folderId: number): Promise<FolderListing> {
    const answer = await this.call<FolderLsResponse>(API_PATHS.folderLs, { folder_id: folderId, files: 1 } satisfies FolderLsRequest, { listing: folderId })
    return {
      id: toNumber(answer.folder_id) ?? folderId,
      name: decodeName(String(answer.name ?? '')),
      folders: (answer.sub_folders ?? []).map(toRemoteFolder),
      files: Array.isArray(answer.items) ? answer.items.map(toRemoteFile) : undefined,
    }
  }

  /** file/ls.cgi: the files of one folder (the fallback when folder/ls ignores `files:1`). */
  async listFiles(folderId: number): Promise<RemoteFile[]> {
    const answer = await this.call<FileLsResponse>(API_PATHS.fileLs, { folder_id: folderId } satisfies FileLsRequest, { listing: folderId })
    return (answer.items ?? []).map(toRemoteFile)
  }

  async mkdir(parentId: number, name: string): Promise<RemoteFolder> {
    const encoded = encodeForService(name, 'folder')
    const answer = await this.call<FolderMkdirResponse>(API_PATHS.folderMkdir, { name: encoded, folder_id: parentId } satisfies FolderMkdirRequest)
    const id = toNumber(answer.folder_id)
    if (id === undefined) throw badResponse(API_PATHS.folderMkdir, 'no folder_id in the answer')
    return { id, name: answer.name ? decodeName(String(answer.name)) : name, passwordProtected: false }
  }

  async rmdir(folderId: number): Promise<void> {
    await this.call<StatusEnvelope>(API_PATHS.folderRm, { folder_id: folderId } satisfies FolderRmRequest)
  }

  /** folder/mv.cgi: move and/or rename. The destination is always sent (0 for the root). */
  async moveFolder(folderId: number, destinationId: number, rename?: string): Promise<void> {
    const body: FolderMvRequest = { folder_id: folderId, destination_folder_id: destinationId, destination_user: '' }
    if (rename !== undefined) body.rename = encodeForService(rename, 'folder')
    await this.call<FolderMvResponse>(API_PATHS.folderMv, body, {}, { alreadyDoneCode: 312 })
  }

  // -------------------------------------------------------------------------------------------
  // Files

  async fileInfo(url: string): Promise<FileDetails> {
    const info = await this.call<FileInfoResponse>(API_PATHS.fileInfo, { url } satisfies FileInfoRequest)
    return {
      ...toRemoteFile({ ...info, acl: info.acl && Object.keys(info.acl).length > 0 ? 1 : 0 } as FileItem),
      folderId: toNumber(info.folder_id),
      path: info.path === undefined ? undefined : String(info.path),
      description: info.description === undefined ? undefined : String(info.description),
    }
  }

  /** file/rename.cgi: rename in place. Returns the file's URL after the rename. */
  async renameFile(url: string, newName: string): Promise<string> {
    const filename = encodeForService(newName, 'file')
    const answer = await this.call<FileRenameResponse>(API_PATHS.fileRename, { urls: [{ url, filename }], pretty: 0 } satisfies FileRenameRequest, {}, { alreadyDoneCode: 312 })
    return answer.urls?.[0]?.url ?? url
  }

  /** file/mv.cgi: move to another folder, optionally renaming. Returns the URL after the move. */
  async moveFile(url: string, destinationId: number, rename?: string): Promise<string> {
    const body: FileMvRequest = { urls: [url], destination_folder_id: destinationId }
    if (rename !== undefined) body.rename = encodeForService(rename, 'file')
    const answer = await this.call<FileMvResponse>(API_PATHS.fileMv, body, {}, { alreadyDoneCode: 312 })
    return answer.urls?.[0] ?? url
  }

  /** file/cp.cgi: server-side copy. Returns the new file's URL. */
  async copyFile(url: string, destinationId: number, rename?: string): Promise<string> {
    const body: FileCpRequest = { urls: [url], folder_id: destinationId }
    if (rename !== undefined) body.rename = encodeForService(rename, 'file')
    const answer = await this.call<FileCpResponse>(API_PATHS.fileCp, body)
    const to = answer.urls?.[0]?.to_url
    if (!to) throw badResponse(API_PATHS.fileCp, 'no to_url in the answer')
    return to
  }

  /** file/rm.cgi. Returns how many files the service says it removed. */
  async removeFiles(urls: string[]): Promise<number> {
    if (urls.length === 0) return 0
    const answer = await this.call<FileRmResponse>(API_PATHS.fileRm, { files: urls.map((url) => ({ url })) } satisfies FileRmRequest)
    return toNumber(answer.removed) ?? urls.length
  }

  /** file/chattr.cgi: description, password, inline, no_ssl, cdn. */
  async setAttributes(urls: string[], attributes: FileAttributes): Promise<number> {
    const body: FileChattrRequest = { urls }
    if (attributes.description !== undefined) body.description = attributes.description
    if (attributes.password !== undefined) {
      if (attributes.password !== '' && attributes.password.length < 6) {
        throw new FichierApiError(ApiErrorCodes.ko, 'a 1fichier download password needs at least 6 characters', { endpoint: API_PATHS.fileChattr, errno: 'EINVAL' })
      }
      body.pass = attributes.password
    }
    if (attributes.inline !== undefined) body.inline = attributes.inline ? 1 : 0
    if (attributes.noSsl !== undefined) body.no_ssl = attributes.noSsl ? 1 : 0
    if (attributes.cdn !== undefined) body.cdn = attributes.cdn ? 1 : 0
    const answer = await this.call<FileChattrResponse>(API_PATHS.fileChattr, body)
    return toNumber(answer.updated) ?? urls.length
  }

  // -------------------------------------------------------------------------------------------
  // Downloads

  /**
   * download/get_token.cgi. `single: false` asks for a link that serves many requests while it
   * is valid (5 minutes), so one link can serve every ranged read of a file.
   */
  async downloadLink(fileUrl: string, options: { single?: boolean; password?: string } = {}): Promise<string> {
    const body: GetTokenRequest = { url: fileUrl, single: options.single === false ? 0 : 1 }
    if (options.password) body.pass = options.password
    const answer = await this.call<GetTokenResponse>(API_PATHS.getToken, body)
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
      try {
        const link = await this.sharedLink(fileUrl, options.password)
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
          this.links.delete(fileUrl)
          continue
        }
        const transient = code === ApiErrorCodes.network || code === ApiErrorCodes.timeout || code === ApiErrorCodes.badResponse ||
          code === ApiErrorCodes.downloadLinkRejected || (code === ApiErrorCodes.http && ((error as FichierApiError).httpStatus ?? 0) >= 500)
        if (!transient || ++attempts >= this.downloadAttempts) throw error
        if (code === ApiErrorCodes.downloadLinkRejected) this.links.delete(fileUrl)
        this.counters.downloadResumes++
        await new Promise((resolve) => setTimeout(resolve, this.downloadRetryDelayMs * attempts))
      }
    }
  }

  /** Forget a file's download link (it was deleted or replaced). */
  forgetLink(fileUrl: string): void {
    this.links.delete(fileUrl)
  }

  private sharedLink(fileUrl: string, password?: string): Promise<string> {
    const known = this.links.get(fileUrl)
    if (known && Date.now() - known.obtainedAt < this.linkLifetimeMs) return known.link
    this.counters.linkRequests++
    const entry = { link: this.downloadLink(fileUrl, { single: false, password }), obtainedAt: Date.now() }
    this.links.set(fileUrl, entry)
    entry.link.catch(() => {
      if (this.links.get(fileUrl) === entry) this.links.delete(fileUrl)
    })
    return entry.link
  }

  // -------------------------------------------------------------------------------------------
  // Uploads

  /**
   * Upload files into a folder in one request (get_upload_server, upload.cgi, end.pl). Failed
   * attempts (5xx, resets, end.pl without links) are retried on a fresh upload node. Files the
   * service did not confirm are returned in `failed`, never in `uploaded`.
   */
  async upload(folderId: number, sources: UploadSource[], options: { onProgress?: (bytesSent: number) => void; signal?: AbortSignal } = {}): Promise<UploadResult> {
    this.checkUpload(sources)
    let lastError: unknown
    for (let attempt = 1; attempt <= this.uploadAttempts; attempt++) {
      try {
        return await this.uploadOnce(folderId, sources, options)
      } catch (error) {
        lastError = error
        const retryable = error instanceof FichierApiError &&
          [ApiErrorCodes.network, ApiErrorCodes.timeout, ApiErrorCodes.http, ApiErrorCodes.badResponse, ApiErrorCodes.uploadFailed].includes(error.code as never)
        if (!retryable || attempt === this.uploadAttempts || options.signal?.aborted) throw error
        await new Promise((resolve) => setTimeout(resolve, this.uploadRetryDelayMs * attempt))
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
    const server = await this.call<UploadServerResponse>(API_PATHS.getUploadServer, undefined, {}, { method: 'GET' })
    const origin = uploadOrigin(String(server.url ?? ''), this.policy)
    const id = String(server.id ?? '')
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw badResponse(API_PATHS.getUploadServer, 'invalid upload id')

    const names = sources.map((source) => encodeName(source.name))
    const multipart = buildMultipart(folderId, sources, names, { hash: this.verifyUploads, onProgress: options.onProgress })
    const response = await this.http.send({
      method: 'POST',
      url: `${origin.origin}${UPLOAD_PATH}?id=${encodeURIComponent(id)}`,
      label: 'upload',
      signal: options.signal,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        // The service refuses a quoted boundary (C# SDK note).
        'content-type': `multipart/form-data; boundary=${multipart.boundary}`,
        'content-length': String(multipart.length),
      },
      body: multipart.body,
      // undici restarts this clock whenever a write fills the socket and once the body is sent,
      // so it bounds silence, not the upload's length: a stalled node is retried, not waited on.
      headersTimeoutMs: this.uploadSilenceMs,
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
    for (let poll = 0; poll <= this.endPollDelaysMs.length; poll++) {
      if (poll > 0) await new Promise((resolve) => setTimeout(resolve, this.endPollDelaysMs[poll - 1]))
      let response: HttpResponse
      try {
        response = await this.http.send({
          method: 'GET', url: `${origin.origin}${END_PATH}?xid=${encodeURIComponent(id)}`, label: 'end.pl',
          headers: { json: '1', authorization: `Bearer ${this.apiKey}` },
        })
      } catch (error) {
        if (poll === this.endPollDelaysMs.length) throw error
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
      const local = await hashes[index]
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

  // -------------------------------------------------------------------------------------------
  // Remote upload

  async remoteRequest(urls: string[], folderId: number, headers?: Record<string, string>): Promise<RemoteUploadRequest> {
    const body: RemoteRequestRequest = { urls, folder_id: folderId }
    if (headers && Object.keys(headers).length > 0) body.headers = headers
    const answer = await this.call<RemoteRequestResponse>(API_PATHS.remoteRequest, body)
    const id = toNumber(answer.id)
    if (id === undefined) throw badResponse(API_PATHS.remoteRequest, 'no id in the answer')
    return { id, requestedAt: parseApiDate(String(answer.date ?? '')), urls: Array.isArray(answer.urls) ? answer.urls.map(String) : urls }
  }

  async remoteList(): Promise<Array<{ id: number; requestedAt?: Date; executedAt?: Date }>> {
    const answer = await this.call<RemoteLsResponse>(API_PATHS.remoteLs, {})
    return (answer.data ?? []).map((entry) => ({
      id: toNumber(entry.id) ?? 0,
      requestedAt: parseApiDate(String(entry.request_date ?? '')),
      executedAt: parseApiDate(String(entry.execution_date ?? '')),
    }))
  }

  async remoteInfo(id: number): Promise<RemoteUploadStatus> {
    const answer = await this.call<RemoteInfoResponse>(API_PATHS.remoteInfo, { id } satisfies RemoteInfoRequest)
    return {
      id: toNumber(answer.id) ?? id,
      requestedAt: parseApiDate(String(answer.request_date ?? '')),
      executedAt: parseApiDate(String(answer.execution_date ?? '')),
      links: Array.isArray(answer.links) ? answer.links.map(String) : [],
      results: (answer.result ?? []).map((entry) => ({
        ok: String(entry.status ?? '').toUpperCase() === 'OK',
        url: String(entry.url ?? ''),
        downloadLink: String(entry.download_link ?? ''),
        message: String(entry.message ?? ''),
      })),
    }
  }

  // -------------------------------------------------------------------------------------------
  // The one place that talks JSON to the API host

  private call<T extends object>(path: ApiPath, body: object | undefined, gate: CallGate = {}, options: { method?: 'GET' | 'POST'; alreadyDoneCode?: number } = {}): Promise<T> {
    return this.pacer.run(path, gate, async (attempt) => {
      try {
        return await this.send<T>(path, body, options.method ?? 'POST')
      } catch (error) {
        // A retried mutation that answers "nothing changed" was applied by an earlier attempt
        // whose answer got lost.
        if (attempt > 1 && options.alreadyDoneCode !== undefined && error instanceof FichierApiError && error.apiCode === options.alreadyDoneCode) {
          return {} as T
        }
        throw error
      }
    })
  }

  private async send<T extends object>(path: ApiPath, body: object | undefined, method: 'GET' | 'POST'): Promise<T> {
    const response = await this.http.send({
      method,
      url: `${this.base}/${path}`,
      label: path,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        // 1fichier needs the JSON content type even on bodiless calls (rclone: "1Fichier API is bad").
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      throw transportError(path, error)
    }
    const json = parseJson(text)
    const message = json && typeof json.message === 'string' ? json.message : undefined
    if (response.status < 200 || response.status >= 300) throw errorFromAnswer(path, response.status, message)
    if (!json) throw badResponse(path, 'the answer is not JSON')
    if (typeof json.status === 'string' && json.status.toUpperCase() === 'KO') throw errorFromAnswer(path, response.status, message)
    return json as T
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers (pure)

/**
 * A local name as 1fichier will store it (rclone-compatible encoding), or an error right away
 * when the service would refuse it: too long (files: 255 bytes once encoded, the common client
 * limit; folders: 250 characters, the documented one), empty, or holding `/` or NUL.
 */
export function encodeForService(name: string, kind: 'file' | 'folder'): string {
  if (name === '' || name.includes('/') || name.includes('\0')) {
    throw new FichierApiError(ApiErrorCodes.invalidName, `invalid name "${name}"`, { endpoint: 'names', errno: 'EINVAL' })
  }
  const encoded = encodeName(name)
  const tooLong = kind === 'file' ? Buffer.byteLength(encoded) > MAX_NAME_BYTES : [...encoded].length > LIMITS.maxFolderNameLength
  if (tooLong) {
    const limit = kind === 'file' ? `${MAX_NAME_BYTES} bytes` : `${LIMITS.maxFolderNameLength} characters`
    throw new FichierApiError(ApiErrorCodes.invalidName, `name too long for 1fichier (max ${limit} once encoded): ${name.slice(0, 40)}…`, { endpoint: 'names', errno: 'ENAMETOOLONG' })
  }
  return encoded
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

export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return undefined
}

function toFlag(value: unknown): boolean {
  return toNumber(value) === 1 || value === true
}

function toRemoteFile(item: FileItem): RemoteFile {
  const url = String(item.url ?? '')
  return {
    url,
    id: fileIdFromUrl(url),
    name: decodeName(String(item.filename ?? '')),
    size: toNumber(item.size) ?? 0,
    uploadedAt: parseApiDate(String(item.date ?? '')),
    checksum: item.checksum ? String(item.checksum).toLowerCase() : undefined,
    contentType: item['content-type'] ? String(item['content-type']) : undefined,
    passwordProtected: toFlag(item.pass),
    cdn: toFlag(item.cdn),
    restricted: toFlag(item.acl),
  }
}

function toRemoteFolder(folder: SubFolder): RemoteFolder {
  return {
    id: toNumber(folder.id) ?? -1,
    name: decodeName(String(folder.name ?? '')),
    createdAt: parseApiDate(String(folder.create_date ?? '')),
    passwordProtected: toFlag(folder.pass),
  }
}

function parseJson(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined
  } catch {
    return undefined
  }
}

function badResponse(endpoint: string, what: string): FichierApiError {
  return new FichierApiError(ApiErrorCodes.badResponse, `${endpoint}: unexpected answer (${what})`, { endpoint })
}

/** Read a short, printable piece of an error body (for messages), discarding the rest. */
async function readSnippet(response: HttpResponse): Promise<string> {
  try {
    const text = await response.text()
    const json = parseJson(text)
    if (json && typeof json.message === 'string') return json.message
    return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200)
  } catch {
    return ''
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

/** Below this, hashing inline costs less than starting a worker. */
const WORKER_HASH_MIN_BYTES = 8 << 20

interface Multipart {
  boundary: string
  length: number
  body: Readable
  /** One Whirlpool per source, resolved once its bytes have been sent ('' when not hashing). */
  hashes: Promise<string>[]
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

  async function* generate(): AsyncGenerator<Buffer> {
    let sent = 0
    try {
      yield head
      for (const [index, source] of sources.entries()) {
        yield partHeads[index] as Buffer
        // Large files on disk are hashed in a worker, beside the upload; the rest inline.
        const inWorker = options.hash && source.path !== undefined && source.size >= WORKER_HASH_MIN_BYTES
        if (inWorker) whirlpoolOfFile(source.path as string).then((digest) => resolvers[index]?.(digest), (error: unknown) => rejecters[index]?.(error))
        // Loaded on first use: a mount that only reads never pays for hash-wasm's memory.
        const hasher = options.hash && !inWorker ? await (await import('hash-wasm')).createWhirlpool() : undefined
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
        if (!inWorker) resolvers[index]?.(hasher ? hasher.digest('hex') : '')
        yield crlf
      }
      yield tail
    } catch (error) {
      for (const reject of rejecters) reject(error)
      throw error
    }
  }
  return { boundary, length, body: Readable.from(generate(), { objectMode: false }), hashes }
}
