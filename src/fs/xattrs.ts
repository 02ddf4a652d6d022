/**
 * Extended attributes: what 1fichier knows of an uploaded file, under `user.fichfs.*`.
 * url and whirlpool come from the listing; the description costs one file/info the first
 * time it is asked for by name (it is listed only once known); the download password and
 * description can be set (file/chattr).
 *
 * The listing's `content-type` is also answered as `user.mime_type`, the name of the
 * freedesktop convention for a file's MIME type in an xattr (shared-mime-info says a type
 * given explicitly beats guessing; ROX-Filer, fusedav and Apache's mod_mime_xattr read or
 * write it; GIO shows it as `xattr::mime_type`). It costs nothing: a reader that asks for it
 * needs no read of the file, so no download link.
 */
import type { MetadataStore } from '../cache/metadata-store.js'
import type { FileAttributes, FileDetails } from '../client/types.js'
import { fsError } from './errors.js'
import type { Namespace } from './namespace.js'

const XATTR_PREFIX = 'user.fichfs.'
export const XATTR = {
  url: `${XATTR_PREFIX}url`,
  whirlpool: `${XATTR_PREFIX}whirlpool`,
  password: `${XATTR_PREFIX}password`,
  description: `${XATTR_PREFIX}description`,
  mimeType: 'user.mime_type',
} as const

export interface XattrRemote {
  fileInfo(url: string): Promise<FileDetails>
  setAttributes(urls: string[], attributes: FileAttributes): Promise<number>
}

export class Xattrs {
  constructor(
    private readonly remote: XattrRemote,
    private readonly store: MetadataStore,
    private readonly namespace: Namespace,
    private readonly checkWritable: () => void,
  ) {}

  async list(path: string): Promise<string[]> {
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote') return []
    const names: string[] = [XATTR.url]
    // The description is listed once known (set through fichfs, or read by name once): tools
    // that copy every attribute (cp -a, rsync -X, getfattr -d, a file manager's copy) would
    // otherwise pay one file/info per file. Asked for by name, it is fetched as before.
    if (this.store.fileMeta(entry.file.url).description) names.push(XATTR.description)
    if (entry.file.checksum) names.push(XATTR.whirlpool)
    if (entry.file.passwordProtected) names.push(XATTR.password)
    if (entry.file.contentType) names.push(XATTR.mimeType)
    return names
  }

  /** The value, or null for "no such attribute" (ENODATA). The kernel's own probes cost nothing. */
  async get(path: string, name: string): Promise<Buffer | null> {
    if (!name.startsWith(XATTR_PREFIX) && name !== XATTR.mimeType) return null
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote') return null
    const file = entry.file
    switch (name) {
      case XATTR.mimeType:
        return file.contentType ? Buffer.from(file.contentType) : null
      case XATTR.url:
        return Buffer.from(file.url)
      case XATTR.whirlpool:
        return file.checksum ? Buffer.from(file.checksum) : null
      case XATTR.password: {
        if (!file.passwordProtected) return null
        // 1fichier never gives a password back: only one set through fichfs is known.
        return Buffer.from(this.store.fileMeta(file.url).password ?? '(set)')
      }
      case XATTR.description: {
        let description = this.store.fileMeta(file.url).description
        if (description === undefined) {
          description = (await this.remote.fileInfo(file.url)).description ?? ''
          this.store.setFileMeta(file.url, { description })
        }
        return description ? Buffer.from(description) : null
      }
      default:
        return null
    }
  }

  async set(path: string, name: string, value: Buffer): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote' || (name !== XATTR.password && name !== XATTR.description)) {
      throw fsError('ENOTSUP', `only ${XATTR.password} and ${XATTR.description} can be set, on uploaded files`)
    }
    const text = value.toString('utf8')
    if (name === XATTR.password) {
      if (text.length < 6) throw fsError('EINVAL', 'a 1fichier download password needs at least 6 characters')
      await this.remote.setAttributes([entry.file.url], { password: text })
      this.store.setFileMeta(entry.file.url, { password: text })
      this.store.setPasswordProtected(entry.file.url, true)
    } else {
      await this.remote.setAttributes([entry.file.url], { description: text })
      this.store.setFileMeta(entry.file.url, { description: text })
    }
  }

  async remove(path: string, name: string): Promise<void> {
    this.checkWritable()
    const entry = await this.namespace.resolve(path)
    if (entry.kind !== 'remote' || (name !== XATTR.password && name !== XATTR.description)) throw fsError('ENODATA', `no ${name}`)
    if (name === XATTR.password) {
      if (!entry.file.passwordProtected) throw fsError('ENODATA', 'no password is set')
      await this.remote.setAttributes([entry.file.url], { password: '' })
      this.store.setFileMeta(entry.file.url, { password: null })
      this.store.setPasswordProtected(entry.file.url, false)
    } else {
      await this.remote.setAttributes([entry.file.url], { description: '' })
      this.store.setFileMeta(entry.file.url, { description: '' })
    }
  }
}
