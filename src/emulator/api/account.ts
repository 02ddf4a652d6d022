import type { GetTokenResponse, UploadServerResponse, UserInfoResponse } from '../../client/wire.js'
import type { EmulatorContext } from '../context.js'
import { formatApiDate } from '../dates.js'
import { ko } from '../errors.js'
import { ROOT_FOLDER_ID } from '../../client/wire.js'
import { fileByUrl } from './files.js'
import type { Params } from './params.js'

const YEAR_MS = 365 * 24 * 3600_000

/** user/info.cgi with the JSON types rclone decodes strictly (string fields are strings). */
export function userInfo(ctx: EmulatorContext): UserInfoResponse {
  const used = ctx.account.usedBytes()
  const created = ctx.account.folder(ROOT_FOLDER_ID)?.createdAt ?? Date.now()
  const today = formatApiDate(Date.now()).slice(0, 10)
  return {
    status: 'OK',
    email: ctx.config.email,
    offer: '1',
    subscription_end: formatApiDate(created + YEAR_MS),
    cdn: '0',
    use_cdn: '0',
    cold_storage: used,
    hot_storage: 0,
    available_cold_storage: ctx.config.quotaBytes,
    allowed_cold_storage: ctx.config.quotaBytes,
    available_storage: 0,
    default_quota: 0,
    default_cold_storage_quota: 0,
    overquota: used > ctx.config.quotaBytes ? 1 : 0,
    upload_forbidden: '0',
    page_limit: 100,
    default_domain: 0,
    ftp_did: 0,
    ftp_mode: '0',
    ftp_report: '0',
    ru_report: '0',
    default_port: '0',
    default_port_files: '0',
    download_menu: '0',
    mail_rm: '0',
    '2fa': '0',
    stats_date: `${today} 00:00:00`,
  }
}

export function getToken(ctx: EmulatorContext, params: Params): GetTokenResponse {
  params.refuseSharing('sharing_user')
  const file = fileByUrl(ctx, params.body.url)
  const single = params.optionalFlag('single') === 1
  const inline = params.optionalFlag('inline') === 1
  for (const flag of ['cdn', 'no_ssl']) params.optionalFlag(flag)
  const restrictIp = params.optionalInt('restrict_ip')
  if (restrictIp !== undefined && ![0, 1, 2].includes(restrictIp)) throw ko.badParameter('restrict_ip')
  const pass = params.optionalString('pass')
  if (file.pass !== null) {
    if (!pass) throw ko.passwordMissing()
    if (pass !== file.pass) throw ko.passwordInvalid()
  }
  const token = ctx.sessions.createToken(file.id, single, inline)
  return { status: 'OK', url: `${ctx.config.downloadBase}/${token}` }
}

/** No `status` on success, as on the real service. */
export function getUploadServer(ctx: EmulatorContext): UploadServerResponse {
  return { url: ctx.config.uploadHost, id: ctx.sessions.createUploadId() }
}
