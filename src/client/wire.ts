/**
 * Wire types of the 1fichier HTTP API v1, as documented in shared/1fichier-api.md.
 *
 * These are the shapes on the wire, field names copied exactly (note `content-type` with a
 * hyphen, `sub_folders[].id` versus top-level `folder_id`, end.pl's string `size`).
 *
 * Two readers use this file: the client (which must be tolerant: where the doc is unsure a
 * field is typed `number | string` or optional) and the emulator (which must be strict and
 * emits exactly one of the readings). The emulator imports nothing else from src/.
 */

/** Every KO answer: `{"status":"KO","message":"… #NNN"}`. */
export interface KoResponse {
  status: 'KO'
  message: string
}

/** Most answers carry `status`; some success answers have none (clients treat missing as OK). */
export interface StatusEnvelope {
  status?: 'OK' | 'KO' | string
  message?: string
}

/** 0/1 integer booleans used all over the API. */
export type Flag = 0 | 1

/** `YYYY-MM-DD HH:MM:SS`, Paris local time, no zone. */
export type ApiDate = string

// ---------------------------------------------------------------------------------------------
// Files

/** One file as listed by file/ls.cgi and folder/ls.cgi (files:1). */
export interface FileItem {
  url: string
  filename: string
  size: number
  date: ApiDate
  checksum: string
  'content-type': string
  pass: Flag
  acl: Flag
  cdn: Flag
}

export interface FileLsRequest {
  folder_id?: number
  sharing_user?: string
  sent_before?: ApiDate
  sent_after?: ApiDate
}

export interface FileLsResponse extends StatusEnvelope {
  items: FileItem[]
  count: number
}

export interface FileInfoRequest {
  url?: string
  pass?: string
  folder_id?: number
  filename?: string
  sharing_user?: string
}

export interface AclObject {
  ip?: string[]
  country?: string[]
  email?: string[]
  premium?: Flag
}

/** file/info.cgi: the listing item (its integer `acl` an object here) plus details. No `status` on OK. */
export interface FileInfoResponse extends StatusEnvelope, Omit<FileItem, 'acl'> {
  folder_id: number
  path: string
  description: string
  inline: Flag
  no_ssl: Flag
  acl: AclObject
}

export interface FileRmRequest {
  files: Array<{ url: string; code?: string }>
}

export interface FileRmResponse extends StatusEnvelope {
  removed?: number
}

export interface FileMvRequest {
  urls: string[]
  destination_folder_id: number
  destination_user?: string
  rename?: string
}

export interface FileMvResponse extends StatusEnvelope {
  moved?: number
  urls?: string[]
  filename?: string
}

export interface FileRenameRequest {
  urls: Array<{ url: string; filename: string }>
  pretty?: Flag
}

export interface FileRenameResponse extends StatusEnvelope {
  renamed?: number
  urls?: Array<{ url: string; old_filename: string; new_filename: string }>
}

export interface FileCpRequest {
  urls: string[]
  folder_id: number
  rename?: string
  pass?: string
  sharing_user?: string
}

export interface FileCpResponse extends StatusEnvelope {
  copied?: number
  urls?: Array<{ from_url: string; to_url: string }>
  filename?: string
}

export interface FileChattrRequest {
  urls: string[]
  filename?: string
  description?: string
  /** Min 6 characters; the empty string removes the password. */
  pass?: string
  no_ssl?: Flag
  inline?: Flag
  cdn?: Flag
  acl?: AclObject
}

export interface FileChattrResponse extends StatusEnvelope {
  updated?: number
  urls?: string[]
}

// ---------------------------------------------------------------------------------------------
// Folders

export interface SubFolder {
  id: number
  name: string
  create_date: ApiDate
  pass: Flag
}

export interface FolderLsRequest {
  folder_id?: number
  sharing_user?: string
  /** 1: include the files of the folder as `items`. */
  files?: Flag
}

export interface FolderLsResponse extends StatusEnvelope {
  folder_id: number
  name: string
  create_date?: ApiDate
  pass?: Flag
  shared?: string
  /** Total bytes of the files directly in the folder; `null` for the root (public capture). */
  size?: number | null
  /** Number of files directly in the folder (a count, unlike the request's `files` flag). */
  files?: number
  /** The doc is unsure whether an empty list is `[]` or omitted. */
  sub_folders?: SubFolder[]
  /** Only with `files:1` (and the doc is not certain the real service honours it). */
  items?: FileItem[]
}

export interface FolderMkdirRequest {
  name: string
  folder_id: number
  sharing_user?: string
}

export interface FolderMkdirResponse extends StatusEnvelope {
  folder_id: number
  name: string
}

export interface FolderRmRequest {
  folder_id: number
}

export type FolderRmResponse = StatusEnvelope

export interface FolderMvRequest {
  folder_id: number
  /** rclone omits it (omitempty) for a move to the root. */
  destination_folder_id?: number
  destination_user?: string
  rename?: string
}

export interface FolderMvResponse extends StatusEnvelope {
  old_name?: string
  new_name?: string
}

// ---------------------------------------------------------------------------------------------
// Downloads

export interface GetTokenRequest {
  url: string
  single?: Flag
  pass?: string
  cdn?: Flag
  inline?: Flag
  restrict_ip?: 0 | 1 | 2
  no_ssl?: Flag
  folder_id?: number
  filename?: string
  sharing_user?: string
}

export interface GetTokenResponse extends StatusEnvelope {
  url: string
}

// ---------------------------------------------------------------------------------------------
// Uploads

/** upload/get_upload_server.cgi: a bare host name (no scheme) and a 10-alnum id. No status. */
export interface UploadServerResponse {
  url: string
  id: string
}

export interface EndPlLink {
  download: string
  filename: string
  /** Removal link; empty when the upload is linked to an account. */
  remove: string
  /** Bytes, as a decimal string. */
  size: string
  whirlpool: string
}

/** end.pl?xid=… with the `JSON: 1` header. No status. */
export interface EndPlResponse {
  incoming: number
  links: EndPlLink[]
}

// ---------------------------------------------------------------------------------------------
// Account

/** user/info.cgi. String-typed fields are strings on the wire (rclone decodes them strictly). */
export interface UserInfoResponse extends StatusEnvelope {
  email: string
  offer: string
  subscription_end: string
  cdn: string
  use_cdn: string
  cold_storage: number
  hot_storage: number
  available_cold_storage: number
  allowed_cold_storage: number
  available_storage: number
  default_quota: number
  default_cold_storage_quota: number
  overquota: number
  upload_forbidden: string
  page_limit: number
  default_domain: number
  ftp_did: number
  ftp_mode: string
  ftp_report: string
  ru_report: string
  default_port: string
  default_port_files: string
  download_menu: string
  mail_rm: string
  '2fa': string
  stats_date: string
}

// ---------------------------------------------------------------------------------------------
// Remote upload

export interface RemoteRequestRequest {
  urls: string[]
  folder_id: number
  headers?: Record<string, string>
}

export interface RemoteRequestResponse extends StatusEnvelope {
  id: number
  date: ApiDate
  urls: string[]
  headers: Record<string, string>
}

export interface RemoteLsResponse extends StatusEnvelope {
  data: Array<{ id: number; request_date: ApiDate; execution_date: ApiDate | '' }>
}

export interface RemoteInfoRequest {
  id: number
}

export interface RemoteInfoResponse extends StatusEnvelope {
  id: number
  request_date: ApiDate
  execution_date: ApiDate | ''
  links: string[]
  result: Array<{ status: string; url: string; download_link: string; message: string }>
}

// ---------------------------------------------------------------------------------------------
// Paths and fixed facts shared by client and emulator

export const API_PATHS = {
  userInfo: 'user/info.cgi',
  folderLs: 'folder/ls.cgi',
  folderMkdir: 'folder/mkdir.cgi',
  folderRm: 'folder/rm.cgi',
  folderMv: 'folder/mv.cgi',
  fileLs: 'file/ls.cgi',
  fileInfo: 'file/info.cgi',
  fileMv: 'file/mv.cgi',
  fileRename: 'file/rename.cgi',
  fileCp: 'file/cp.cgi',
  fileRm: 'file/rm.cgi',
  fileChattr: 'file/chattr.cgi',
  getToken: 'download/get_token.cgi',
  getUploadServer: 'upload/get_upload_server.cgi',
  remoteRequest: 'remote/request.cgi',
  remoteLs: 'remote/ls.cgi',
  remoteInfo: 'remote/info.cgi',
} as const

export type ApiPath = (typeof API_PATHS)[keyof typeof API_PATHS]

/** Upload node paths (on the host named by get_upload_server). */
export const UPLOAD_PATH = '/upload.cgi'
export const END_PATH = '/end.pl'

/** The root folder's id. */
export const ROOT_FOLDER_ID = 0

/** Documented limits (shared/1fichier-api.md §5, §8). */
export const LIMITS = {
  /** Per file, bytes (rclone refuses above 300e9). */
  maxFileSize: 300e9,
  /** Per upload request, bytes. */
  maxRequestSize: 500e9,
  maxFilesPerUpload: 500,
  maxFolderNameLength: 250,
  /** Folder listing: max results. */
  maxListingResults: 5000,
} as const

/** Error codes seen in the wild (the ` #NNN` suffix of `message`). */
export const API_CODES = {
  floodIp38: 38,
  noSuchUser: 93,
  ipBlocked: 186,
  mustBeCustomer200: 200,
  floodUser: 223,
  mustBeCustomer: 236,
  notAuthenticated: 247,
  nothingRenamed: 312,
  flood: 374,
  flood412: 412,
  notFound: 469,
  ownerLocked: 620,
  notAllowed: 631,
  oneLocation: 887,
} as const
