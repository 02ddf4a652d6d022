import type { RemoteInfoResponse, RemoteLsResponse, RemoteRequestResponse } from '../../client/wire.js'
import type { EmulatorContext } from '../context.js'
import { formatApiDate } from '../dates.js'
import { ko } from '../errors.js'
import type { RemoteRequestRecord } from '../remote.js'
import { existingFolder } from './folders.js'
import { isObject, type Params } from './params.js'

const executionDate = (request: RemoteRequestRecord): string => (request.executedAt === null ? '' : formatApiDate(request.executedAt))

export function remoteRequest(ctx: EmulatorContext, params: Params): RemoteRequestResponse {
  const urls = params.stringList('urls')
  for (const url of urls) if (!/^https?:\/\//.test(url) || !URL.canParse(url)) throw ko.badParameter('urls')
  const folder = existingFolder(ctx, params.int('folder_id'))
  const headers = params.body.headers ?? {}
  if (!isObject(headers) || !Object.values(headers).every((value) => typeof value === 'string')) throw ko.badParameter('headers')
  const request = ctx.remote.create(folder.id, urls, headers as Record<string, string>)
  return { status: 'OK', id: request.id, date: formatApiDate(request.requestedAt), urls: request.urls, headers: request.headers }
}

export function remoteLs(ctx: EmulatorContext): RemoteLsResponse {
  const data = ctx.remote.list().map((request) => ({
    id: request.id,
    request_date: formatApiDate(request.requestedAt),
    execution_date: executionDate(request),
  }))
  return { status: 'OK', data }
}

export function remoteInfo(ctx: EmulatorContext, params: Params): RemoteInfoResponse {
  const request = ctx.remote.get(params.int('id'))
  if (!request) throw ko.notFound()
  return {
    status: 'OK',
    id: request.id,
    request_date: formatApiDate(request.requestedAt),
    execution_date: executionDate(request),
    links: request.result.filter((entry) => entry.status === 'OK').map((entry) => entry.download_link),
    result: request.result,
  }
}
