import type { FileInfoResponse, FileItem, SubFolder } from '../../client/wire.js'
import type { Account, FileRecord, FolderRecord } from '../account.js'
import { formatApiDate } from '../dates.js'
import { fileUrl } from '../ids.js'
import { contentTypeFor } from '../names.js'

const hasAcl = (file: FileRecord): boolean => Object.keys(file.acl).length > 0

/** One file as file/ls.cgi and folder/ls.cgi list it (field order of the real capture). */
export function fileItem(file: FileRecord): FileItem {
  return {
    pass: file.pass ? 1 : 0,
    acl: hasAcl(file) ? 1 : 0,
    size: file.size,
    filename: file.filename,
    checksum: file.whirlpool,
    cdn: file.cdn,
    url: fileUrl(file.id),
    date: formatApiDate(file.createdAt),
    'content-type': contentTypeFor(file.filename),
  }
}

export function subFolder(folder: FolderRecord): SubFolder {
  return { id: folder.id, name: folder.name, create_date: formatApiDate(folder.createdAt), pass: 0 }
}

/** file/info.cgi: the doc example's shape, no `status`, `acl` as an object. */
export function fileInfo(account: Account, file: FileRecord): FileInfoResponse {
  return {
    url: fileUrl(file.id),
    filename: file.filename,
    size: file.size,
    date: formatApiDate(file.createdAt),
    checksum: file.whirlpool,
    'content-type': contentTypeFor(file.filename),
    pass: file.pass ? 1 : 0,
    cdn: file.cdn,
    folder_id: file.folderId,
    path: account.folderPath(file.folderId),
    description: file.description,
    inline: file.inline,
    no_ssl: file.noSsl,
    acl: file.acl,
  }
}
