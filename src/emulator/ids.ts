import { randomInt, randomUUID } from 'node:crypto'

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789'
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const LOWER = 'abcdefghijklmnopqrstuvwxyz'
const DIGITS = '0123456789'

export function randomString(alphabet: string, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)]
  return out
}

/** File ids: 10 lowercase alphanumerics, as in `https://1fichier.com/?2zk52quqlm`. */
export const newFileId = (): string => randomString(LOWER_ALNUM, 10)

/** Upload ids (get_upload_server `id`, end.pl `xid`): 10 alphanumerics. */
export const newUploadId = (): string => randomString(ALNUM, 10)

export const newApiKey = (): string => randomString(ALNUM, 32)

/** Folder ids look like the real ones (6 to 8 digits) so nobody relies on small counters. */
export const newFolderId = (): number => randomInt(100_000, 100_000_000)

/** Download tokens: one letter then 10 digits, like `c1234567890`. */
export const newDownloadToken = (): string => randomString(LOWER, 1) + randomString(DIGITS, 10)

export const newBlobId = (): string => randomUUID()

/** The canonical public URL of a file; an identifier only, bytes never come from there. */
export function fileUrl(fileId: string): string {
  return `https://1fichier.com/?${fileId}`
}

const QUERY_FORM = /^https?:\/\/(?:www\.)?1fichier\.com\/\?([a-z0-9]{5,20})(?:&.*)?$/
const SUBDOMAIN_FORM = /^https?:\/\/([a-z0-9]{5,20})\.1fichier\.com\/?$/

/** The file id inside any accepted URL form, or undefined. */
export function parseFileUrl(url: string): string | undefined {
  return QUERY_FORM.exec(url)?.[1] ?? SUBDOMAIN_FORM.exec(url)?.[1]
}
