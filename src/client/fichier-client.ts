/**
 * The 1fichier API client: one method per endpoint, written for the real service
 * (shared/1fichier-api.md), tolerant where the doc is unsure (numbers as strings, a missing
 * `status`, a listing without `items`, end.pl answering HTML).
 *
 * Every API-host call goes through the shared Pacer. Names cross this boundary decoded: callers
 * speak local names, the wire carries rclone-compatible encoded names.
 */
import { ApiCaller, type CallOptions } from './api-call.js'
import { badResponse, toNumber, toRemoteFile, toRemoteFolder } from './convert.js'
import { parseApiDate } from './dates.js'
import { Downloads } from './downloads.js'
import { ApiErrorCodes, FichierApiError } from './errors.js'
import { HttpTransport } from './http.js'
import type { LinkStore } from './link-store.js'
import { decodeName, encodeForService } from './names.js'
import { Pacer, type CallGate } from './pacer.js'
import { trustPolicy } from './trust.js'
import type {
  AccountInfo, FileAttributes, FileDetails, FolderListing, RangeResponse, RemoteFile, RemoteFolder,
  RemoteUploadRequest, RemoteUploadStatus, UploadResult, UploadSource,
} from './types.js'
import { Uploads } from './uploads.js'
import {
  API_PATHS,
  type ApiPath, type FileCpRequest, type FileInfoRequest, type FileLsRequest, type FileMvRequest,
  type FileRenameRequest, type FileRmRequest, type FolderLsRequest, type FolderMkdirRequest, type FolderRmRequest,
  type RemoteInfoRequest, type RemoteRequestRequest, type FileChattrRequest, type FileChattrResponse, type FileCpResponse,
  type FileInfoResponse, type FileItem, type FileLsResponse, type FileMvResponse, type FileRenameResponse,
  type FileRmResponse, type FolderLsResponse, type FolderMkdirResponse, type FolderMvRequest, type FolderMvResponse,
  type RemoteInfoResponse, type RemoteLsResponse, type RemoteRequestResponse,
  type StatusEnvelope, type UserInfoResponse,
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
  /** Keeps download links beyond this process (the metadata cache's, in the CLI). */
  linkStore?: LinkStore
}

export class FichierClient {
  readonly pacer: Pacer
  private readonly http: HttpTransport
  private readonly api: ApiCaller
  private readonly downloads: Downloads
  private readonly uploads: Uploads

  constructor(options: FichierClientOptions) {
    if (!options.apiKey) throw new FichierApiError(ApiErrorCodes.auth, 'no API key configured', { endpoint: 'config', errno: 'EACCES' })
    const policy = trustPolicy(options.endpoint)
    this.pacer = options.pacer ?? new Pacer()
    this.http = options.http ?? new HttpTransport()
    this.api = new ApiCaller(this.http, this.pacer, options.apiKey, policy.endpoint.href.replace(/\/+$/, ''))
    this.downloads = new Downloads(this.api, this.http, policy, {
      linkLifetimeMs: options.linkLifetimeMs ?? 4 * 60_000,
      downloadAttempts: options.downloadAttempts ?? 6,
      downloadRetryDelayMs: options.downloadRetryDelayMs ?? 500,
      linkStore: options.linkStore,
    })
    this.uploads = new Uploads(this.api, this.http, options.apiKey, policy, {
      uploadAttempts: options.uploadAttempts ?? 3,
      verifyUploads: options.verifyUploads ?? true,
      endPollDelaysMs: options.endPollDelaysMs ?? [250, 500, 1000, 2000, 4000],
      uploadRetryDelayMs: options.uploadRetryDelayMs ?? 2000,
      uploadSilenceMs: options.uploadSilenceMs ?? 10 * 60_000,
    }, (urls) => this.removeFiles(urls))
  }

  /** Download-side counters (link requests, resumed bodies). */
  downloadStats(): { linkRequests: number; downloadResumes: number } {
    return this.downloads.stats()
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
      fileCount: toNumber(answer.files),
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

  /**
   * file/mv.cgi with many URLs (no rename: the API takes `rename` with one URL only). Returns
   * the URLs after the move, in order; where the answer does not list them one for one, the
   * URLs sent (1fichier keeps a file's URL on a move in every answer seen so far).
   */
  async moveFiles(urls: string[], destinationId: number): Promise<string[]> {
    if (urls.length === 0) return []
    const body: FileMvRequest = { urls, destination_folder_id: destinationId }
    const answer = await this.call<FileMvResponse>(API_PATHS.fileMv, body, {}, { alreadyDoneCode: 312 })
    const after = Array.isArray(answer.urls) && answer.urls.length === urls.length ? answer.urls : undefined
    return urls.map((url, index) => (typeof after?.[index] === 'string' ? after[index] : url))
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

  /** download/get_token.cgi (`single: false`: a link that serves many requests while valid). */
  downloadLink(fileUrl: string, options: { single?: boolean; password?: string } = {}): Promise<string> {
    return this.downloads.downloadLink(fileUrl, options)
  }

  /** GET a byte range of a download link, without the API key (`end` inclusive). */
  openRange(link: string, start: number, end?: number, signal?: AbortSignal): Promise<RangeResponse> {
    return this.downloads.openRange(link, start, end, signal)
  }

  /** Bytes `start`..`end` (inclusive) of a file, as a stream of chunks (downloads.ts). */
  readRange(fileUrl: string, start: number, end: number, options: { signal?: AbortSignal; password?: string } = {}): AsyncGenerator<Buffer> {
    return this.downloads.readRange(fileUrl, start, end, options)
  }

  /** Forget a file's download link (it was deleted or replaced). */
  forgetLink(fileUrl: string): void {
    this.downloads.forgetLink(fileUrl)
  }

  // -------------------------------------------------------------------------------------------
  // Uploads

  /** Upload files into a folder in one request (uploads.ts). */
  upload(folderId: number, sources: UploadSource[], options: { onProgress?: (bytesSent: number) => void; signal?: AbortSignal } = {}): Promise<UploadResult> {
    return this.uploads.upload(folderId, sources, options)
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

  private call<T extends object>(path: ApiPath, body: object | undefined, gate: CallGate = {}, options: CallOptions = {}): Promise<T> {
    return this.api.call<T>(path, body, gate, options)
  }
}

