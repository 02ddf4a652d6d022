import type { FolderLsResponse, FolderMkdirResponse, FolderMvResponse, FolderRmResponse } from '../../client/wire.js'
import { LIMITS, ROOT_FOLDER_ID } from '../../client/wire.js'
import type { FolderRecord } from '../account.js'
import type { EmulatorContext } from '../context.js'
import { formatApiDate } from '../dates.js'
import { ko } from '../errors.js'
import { nameProblem } from '../names.js'
import type { Params } from './params.js'
import { fileItem, subFolder } from './shapes.js'

export function existingFolder(ctx: EmulatorContext, id: number): FolderRecord {
  const folder = ctx.account.folder(id)
  if (!folder) throw ko.notFound()
  return folder
}

export function checkName(name: string, kind: 'file' | 'folder'): void {
  const problem = nameProblem(name, kind)
  if (problem) throw ko.invalidName(problem)
}

export function folderLs(ctx: EmulatorContext, params: Params): FolderLsResponse {
  params.refuseSharing('sharing_user')
  const folder = existingFolder(ctx, params.int('folder_id'))
  const withFiles = params.optionalFlag('files') === 1
  const usage = ctx.account.folderUsage(folder.id)
  // The root answers like the public capture (rclone#5152): "Root", a null size, and no
  // create_date or pass at the top level.
  const top = folder.id === ROOT_FOLDER_ID
    ? { name: 'Root', size: null }
    : { name: folder.name, create_date: formatApiDate(folder.createdAt), pass: 0 as const, size: usage.size }
  const response: FolderLsResponse = {
    status: 'OK',
    folder_id: folder.id,
    ...top,
    files: usage.files,
    sub_folders: ctx.account.subFolders(folder.id).slice(0, LIMITS.maxListingResults).map(subFolder),
  }
  if (withFiles) response.items = ctx.account.filesIn(folder.id).slice(0, LIMITS.maxListingResults).map(fileItem)
  return response
}

export function folderMkdir(ctx: EmulatorContext, params: Params): FolderMkdirResponse {
  params.refuseSharing('sharing_user')
  const name = params.string('name')
  const parent = existingFolder(ctx, params.int('folder_id'))
  checkName(name, 'folder')
  if (ctx.account.folderByName(parent.id, name)) throw ko.folderExists()
  const folder = ctx.account.createFolder(parent.id, name)
  return { status: 'OK', folder_id: folder.id, name: folder.name }
}

export function folderRm(ctx: EmulatorContext, params: Params): FolderRmResponse {
  const id = params.int('folder_id')
  if (id === ROOT_FOLDER_ID) throw ko.rootFolder()
  const folder = existingFolder(ctx, id)
  if (ctx.account.subFolders(folder.id).length > 0 || ctx.account.folderUsage(folder.id).files > 0) throw ko.folderNotEmpty()
  ctx.account.removeFolder(folder.id)
  return { status: 'OK' }
}

export function folderMv(ctx: EmulatorContext, params: Params): FolderMvResponse {
  params.refuseSharing('destination_user')
  const id = params.int('folder_id')
  // rclone sends no destination for the root (omitempty).
  const destinationId = params.optionalInt('destination_folder_id') ?? ROOT_FOLDER_ID
  const rename = params.optionalString('rename')
  if (id === ROOT_FOLDER_ID) throw ko.rootFolder()
  const folder = existingFolder(ctx, id)
  const destination = existingFolder(ctx, destinationId)
  const newName = rename ?? folder.name
  if (rename !== undefined) checkName(rename, 'folder')
  if (ctx.account.isWithin(destination.id, folder.id)) throw ko.folderIntoItself()
  if (destination.id === folder.parentId && newName === folder.name) throw ko.noFolderMoved()
  if (ctx.account.folderByName(destination.id, newName)) throw ko.folderExists()
  ctx.account.updateFolder(folder.id, destination.id, newName)
  return { status: 'OK', old_name: folder.name, new_name: newName }
}
