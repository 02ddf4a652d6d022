import type {
  AclObject, FileChattrResponse, FileCpResponse, FileInfoResponse, FileLsResponse, FileMvResponse, FileRenameResponse, FileRmResponse,
} from '../../client/wire.js'
import { LIMITS, ROOT_FOLDER_ID } from '../../client/wire.js'
import type { FilePatch, FileRecord } from '../account.js'
import type { EmulatorContext } from '../context.js'
import { API_DATE_PATTERN } from '../dates.js'
import { ko } from '../errors.js'
import { fileUrl, parseFileUrl } from '../ids.js'
import { checkName, existingFolder } from './folders.js'
import { isObject, type Params } from './params.js'
import { fileInfo as fileInfoShape, fileItem } from './shapes.js'

const MIN_PASSWORD_LENGTH = 6
const ALL_FILES = -1

/** The account file a URL names; 404 #469 when it names nothing here. */
export function fileByUrl(ctx: EmulatorContext, url: unknown, field = 'url'): FileRecord {
  if (typeof url !== 'string') throw ko.badParameter(field)
  const id = parseFileUrl(url)
  const file = id === undefined ? undefined : ctx.account.file(id)
  if (!file) throw ko.notFound()
  return file
}

export function fileLs(ctx: EmulatorContext, params: Params): FileLsResponse {
  params.refuseSharing('sharing_user')
  const folderId = params.optionalInt('folder_id') ?? ROOT_FOLDER_ID
  const sentBefore = optionalDate(params, 'sent_before')
  const sentAfter = optionalDate(params, 'sent_after')
  const files = folderId === ALL_FILES ? ctx.account.allFiles() : ctx.account.filesIn(existingFolder(ctx, folderId).id)
  // API dates sort as text, so the filters compare the strings the client sees.
  const items = files
    .map(fileItem)
    .filter((item) => (sentBefore === undefined || item.date < sentBefore) && (sentAfter === undefined || item.date > sentAfter))
    .slice(0, LIMITS.maxListingResults)
  return { status: 'OK', items, count: items.length }
}

function optionalDate(params: Params, key: string): string | undefined {
  const value = params.optionalString(key)
  if (value !== undefined && !API_DATE_PATTERN.test(value)) throw ko.badParameter(key)
  return value
}

export function fileInfo(ctx: EmulatorContext, params: Params): FileInfoResponse {
  params.refuseSharing('sharing_user')
  params.optionalString('pass')
  if (params.has('url')) return fileInfoShape(ctx.account, fileByUrl(ctx, params.body.url))
  const folder = existingFolder(ctx, params.int('folder_id'))
  const file = ctx.account.fileByName(folder.id, params.string('filename'))
  if (!file) throw ko.notFound()
  return fileInfoShape(ctx.account, file)
}

export function fileMv(ctx: EmulatorContext, params: Params): FileMvResponse {
  params.refuseSharing('destination_user')
  const files = params.stringList('urls').map((url) => fileByUrl(ctx, url, 'urls'))
  const destination = existingFolder(ctx, params.int('destination_folder_id'))
  const rename = params.optionalString('rename')
  if (rename !== undefined) {
    if (files.length > 1) throw ko.singleUrlOnly('rename')
    checkName(rename, 'file')
  }
  const changed = files.filter((file) => file.folderId !== destination.id || (rename !== undefined && rename !== file.filename))
  if (changed.length === 0) throw ko.noFileRenamed()
  for (const file of changed) ctx.account.updateFile(file.id, { folderId: destination.id, filename: rename })
  const response: FileMvResponse = { status: 'OK', moved: changed.length, urls: files.map((file) => fileUrl(file.id)) }
  if (rename !== undefined) response.filename = rename
  return response
}

export function fileRename(ctx: EmulatorContext, params: Params): FileRenameResponse {
  const requests = params.list('urls').map((entry) => {
    if (!isObject(entry) || typeof entry.filename !== 'string') throw ko.badParameter('urls')
    const file = fileByUrl(ctx, entry.url, 'urls')
    checkName(entry.filename, 'file')
    return { file, filename: entry.filename }
  })
  const changed = requests.filter(({ file, filename }) => file.filename !== filename)
  if (changed.length === 0) throw ko.noFileRenamed()
  for (const { file, filename } of changed) ctx.account.updateFile(file.id, { filename })
  return {
    status: 'OK',
    renamed: changed.length,
    urls: changed.map(({ file, filename }) => ({ url: fileUrl(file.id), old_filename: file.filename, new_filename: filename })),
  }
}

export function fileCp(ctx: EmulatorContext, params: Params): FileCpResponse {
  params.refuseSharing('sharing_user')
  params.optionalString('pass')
  const sources = params.stringList('urls').map((url) => fileByUrl(ctx, url, 'urls'))
  const destination = existingFolder(ctx, params.int('folder_id'))
  const rename = params.optionalString('rename')
  if (rename !== undefined) {
    if (sources.length > 1) throw ko.singleUrlOnly('rename')
    checkName(rename, 'file')
  }
  const added = sources.reduce((total, file) => total + file.size, 0)
  if (ctx.account.usedBytes() + added > ctx.config.quotaBytes) throw ko.quotaExceeded()
  const urls = sources.map((source) => {
    const copy = ctx.account.copyFile(source, destination.id, rename ?? source.filename)
    return { from_url: fileUrl(source.id), to_url: fileUrl(copy.id) }
  })
  const response: FileCpResponse = { status: 'OK', copied: urls.length, urls }
  if (rename !== undefined) response.filename = rename
  return response
}

export function fileRm(ctx: EmulatorContext, params: Params): FileRmResponse {
  const ids = params.list('files').map((entry) => {
    if (!isObject(entry) || typeof entry.url !== 'string') throw ko.badParameter('files')
    if (entry.code !== undefined && typeof entry.code !== 'string') throw ko.badParameter('files')
    return parseFileUrl(entry.url)
  })
  let removed = 0
  for (const id of new Set(ids)) {
    if (id === undefined || !ctx.account.file(id)) continue
    ctx.account.removeFile(id)
    removed += 1
  }
  if (removed === 0) throw ko.notFound()
  return { status: 'OK', removed }
}

export function fileChattr(ctx: EmulatorContext, params: Params): FileChattrResponse {
  const files = params.stringList('urls').map((url) => fileByUrl(ctx, url, 'urls'))
  const patch: FilePatch = {
    filename: params.optionalString('filename'),
    description: params.optionalString('description'),
    inline: params.optionalFlag('inline'),
    noSsl: params.optionalFlag('no_ssl'),
    cdn: params.optionalFlag('cdn'),
  }
  if (patch.filename !== undefined) {
    if (files.length > 1) throw ko.singleUrlOnly('filename')
    checkName(patch.filename, 'file')
  }
  const pass = params.optionalString('pass')
  if (pass !== undefined) {
    if (pass !== '' && pass.length < MIN_PASSWORD_LENGTH) throw ko.passwordTooShort()
    patch.pass = pass === '' ? null : pass
  }
  if (params.has('acl')) patch.acl = normaliseAcl(params.body.acl)
  if (Object.values(patch).every((value) => value === undefined)) throw ko.nothingToChange()
  for (const file of files) ctx.account.updateFile(file.id, patch)
  return { status: 'OK', updated: files.length, urls: files.map((file) => fileUrl(file.id)) }
}

/** Validate an ACL object; empty lists are dropped, so `{}` removes every restriction. */
function normaliseAcl(input: unknown): AclObject {
  if (!isObject(input)) throw ko.badParameter('acl')
  const acl: AclObject = {}
  for (const [key, value] of Object.entries(input)) {
    if (key === 'premium') {
      if (value !== 0 && value !== 1) throw ko.badParameter('acl')
      if (value === 1) acl.premium = 1
    } else if (key === 'ip' || key === 'country' || key === 'email') {
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw ko.badParameter('acl')
      if (value.length > 0) acl[key] = value as string[]
    } else {
      throw ko.badParameter('acl')
    }
  }
  return acl
}
