/**
 * The client's view of the account, after decoding: names are local names (rclone-compatible
 * decoding applied), dates are instants, numbers are numbers whatever type the wire used.
 */
import type { Readable } from 'node:stream'

export interface RemoteFile {
  /** The file's identity at 1fichier: `https://1fichier.com/?<id>`. */
  url: string
  /** The `<id>` part of the URL (or the whole URL when it has an unknown form). */
  id: string
  name: string
  size: number
  uploadedAt?: Date
  /** Whirlpool, 128 hex characters. */
  checksum?: string
  contentType?: string
  passwordProtected: boolean
  cdn: boolean
  restricted: boolean
}

export interface RemoteFolder {
  id: number
  name: string
  createdAt?: Date
  passwordProtected: boolean
}

export interface FolderListing {
  id: number
  name: string
  folders: RemoteFolder[]
  /** Undefined when the answer had no `items` (the service ignored `files:1`). */
  files?: RemoteFile[]
  /** The folder's own count of its files (`files`), when the answer has one. */
  fileCount?: number
}

export interface FileDetails extends RemoteFile {
  folderId?: number
  path?: string
  description?: string
}

export interface AccountInfo {
  email: string
  /** 0 free, 1 Premium, 2 Access, 3 Premium GOLD (JDownloader's reading). */
  offer: number
  usedBytes: number
  quotaBytes: number
  freeBytes: number
  subscriptionEnd?: string
}

/** A file to upload: `open` may be called again when an attempt is retried. */
export interface UploadSource {
  name: string
  size: number
  open(): Readable
  /** The file on disk, when there is one: large files are then hashed in a worker thread. */
  path?: string
  /** Its Whirlpool, when already known or being computed (the spool hashes as it is written). */
  whirlpool?: Promise<string>
}

export interface UploadedFile {
  name: string
  url: string
  size: number
  whirlpool: string
  /** False when the service's own report could not be read and local values were used. */
  confirmedByService: boolean
}

export interface UploadResult {
  uploaded: UploadedFile[]
  failed: Array<{ name: string; error: Error }>
}

export interface FileAttributes {
  description?: string
  /** Set a download password (min 6 characters); the empty string removes it. */
  password?: string
  inline?: boolean
  noSsl?: boolean
  cdn?: boolean
}

export interface RemoteUploadRequest {
  id: number
  requestedAt?: Date
  urls: string[]
}

export interface RemoteUploadStatus {
  id: number
  requestedAt?: Date
  /** Undefined while the request is pending. */
  executedAt?: Date
  links: string[]
  results: Array<{ ok: boolean; url: string; downloadLink: string; message: string }>
}

export interface RangeResponse {
  body: Readable
  /** Bytes this response will deliver. */
  length: number
  /** The whole file's size when the server said so. */
  totalSize?: number
}
