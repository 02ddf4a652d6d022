/**
 * `fichfs status [MOUNTPOINT]`: what a running mount is doing, from its control socket (no
 * API call): pending uploads, API calls, floods met, cache hit rates, the account's quota, the
 * trash.
 * Without MOUNTPOINT, every running mount of this user.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { FichfsError } from '../../errors.js'
import { listSockets, requestControl, socketPathFor } from '../control.js'
import { formatBytes, printJson } from '../format.js'

interface StatusArgs {
  mountpoint?: string
  json: boolean
}

type Json = Record<string, unknown>

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status [mountpoint]',
  describe: 'Show what running mounts are doing (uploads, API calls, caches, quota, trash)',
  builder: (yargs) => yargs
    .positional('mountpoint', { type: 'string', describe: 'A mountpoint (default: every running mount)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON (one object for a MOUNTPOINT, else an array)' }) as unknown as Argv<StatusArgs>,
  handler: async (args) => {
    if (args.mountpoint !== undefined) {
      const status = await askOne(resolve(args.mountpoint))
      if (args.json) printJson(status)
      else process.stdout.write(formatStatus(status))
      return
    }
    const statuses = await askAll()
    if (args.json) {
      printJson(statuses)
      return
    }
    if (statuses.length === 0) process.stdout.write('No fichfs mount is running.\n')
    process.stdout.write(statuses.map(formatStatus).join('\n'))
  },
}

async function askOne(mountpoint: string): Promise<Json> {
  const socket = socketPathFor(mountpoint)
  const notRunning = (cause?: unknown) => new FichfsError('FICHFS_NOT_MOUNTED', `no running fichfs mount answers for ${mountpoint}`, {
    cause, hint: '`fichfs status` without a mountpoint lists the running mounts.',
  })
  if (!existsSync(socket)) throw notRunning()
  try {
    return statusOf(await requestControl(socket, { cmd: 'status' }))
  } catch (error) {
    throw notRunning(error)
  }
}

/** Every socket that answers; a socket left by a crashed mount is skipped. */
async function askAll(): Promise<Json[]> {
  const answers = await Promise.all(listSockets().map(async (socket) => {
    try {
      return statusOf(await requestControl(socket, { cmd: 'status' }, undefined, 3000))
    } catch {
      return undefined
    }
  }))
  return answers.filter((status): status is Json => status !== undefined)
    .sort((a, b) => String(a.mountpoint).localeCompare(String(b.mountpoint)))
}

function statusOf(answer: Json): Json {
  if (answer.ok !== true || typeof answer.status !== 'object' || answer.status === null) {
    throw new FichfsError('FICHFS_CONTROL', `the mount answered: ${String(answer.error ?? 'no status')}`)
  }
  return answer.status as Json
}

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0)
const obj = (value: unknown): Json => (value && typeof value === 'object' ? (value as Json) : {})

function hitRate(hits: number, misses: number): string {
  const total = hits + misses
  return total === 0 ? 'no reads yet' : `${Math.round((hits / total) * 100)}% hits (${hits} of ${total})`
}

/** `3 item(s), 1.20 MiB (counted in df); each deleted for good 30 day(s) after its deletion`. */
export function formatTrash(trash: Json): string {
  const retentionMs = num(trash.retentionMs)
  const days = retentionMs / 86_400_000
  const retention = retentionMs > 0
    ? `each deleted for good ${Number.isInteger(days) ? `${days} day(s)` : `${Math.round(retentionMs / 1000)} s`} after its deletion`
    : 'kept until emptied'
  const bytes = num(trash.bytes)
  return `${num(trash.entries)} item(s), ${formatBytes(bytes)}${bytes > 0 ? ' (counted in df; `fichfs trash empty` frees it)' : ''}; ${retention}`
}

/** Blocks reads needed: how many the caches served, and how many were downloaded (ahead or not). */
function blockLine(cache: Json): string {
  const memory = num(cache.hits)
  const disk = num(cache.diskHits)
  const ahead = num(cache.readAheadHits)
  const fetched = num(cache.misses)
  const read = memory + disk + ahead + fetched
  if (read === 0) return 'no reads yet'
  return `${hitRate(memory + disk, ahead + fetched).replace(/\)$/, ' read')}: ${memory} from memory, ${disk} from disk; ` +
    `${ahead + fetched} downloaded, ${ahead} of them read ahead)`
}

/** A folder over 1fichier's listing cap: what may be missing from the mount. */
function capLine(cap: Json): string {
  const head = `${String(cap.path)}: over 1fichier's 5000-result listing cap (a listing had ${num(cap.listed)}); `
  const known = num(cap.knownFiles)
  if (typeof cap.counted === 'number') {
    const missing = Math.max(0, cap.counted - known)
    return `${head}1fichier counts ${cap.counted} files, the mount shows ${known}` +
      (missing > 0 ? `: ${missing} file(s) uploaded elsewhere are missing from it` : ', none is missing')
  }
  return `${head}the mount shows the ${known} files fichfs knows; files uploaded elsewhere may be missing from it`
}

export function formatStatus(status: Json): string {
  const uploads = obj(status.uploads)
  const api = obj(status.api)
  const cache = obj(status.cache)
  const account = status.account ? obj(status.account) : undefined
  const lines: Array<[string, string]> = []
  lines.push(['Uploads', `${num(uploads.pending)} pending, ${num(uploads.uploading)} uploading, ${num(uploads.failed)} failed; ` +
    `${formatBytes(num(uploads.bytesPending))} to send, ${formatBytes(num(uploads.bytesSent))} sent` +
    (num(uploads.deletesPending) > 0 ? `; ${num(uploads.deletesPending)} replaced version(s) to delete` : '')])
  lines.push(['API calls', `${num(api.callsLastMinute)} in the last minute, ${num(api.calls)} in total (${num(api.retries)} retried)` +
    (api.unreachable ? '; 1fichier cannot be reached (reads of uncached data fail, uploads wait)' : '')])
  const holdMs = num(api.floodHoldUntil) - Date.now()
  lines.push(['Floods met', `${num(api.floods)}${holdMs > 0 ? `; cooling down for ${Math.ceil(holdMs / 1000)} s` : ''}`])
  const caches = [`file blocks ${blockLine(cache)}`]
  const metadata = obj(status.metadata)
  if (typeof metadata.hits === 'number') caches.push(`metadata ${hitRate(num(metadata.hits), num(metadata.misses))}`)
  caches.push(`${num(status.listings)} folder listing(s)`)
  lines.push(['Caches', caches.join('; ')])
  lines.push(['Account', account
    ? `${formatBytes(num(account.usedBytes))} used of ${formatBytes(num(account.quotaBytes))} (${formatBytes(num(account.freeBytes))} available)`
    : 'quota not asked yet (the mount asks on the first df)'])
  if (status.trash === null) lines.push(['Trash', 'off (--no-trash): deletions are for good'])
  else if (status.trash !== undefined) lines.push(['Trash', formatTrash(obj(status.trash))])
  if (status.openFiles !== undefined) lines.push(['Open files', String(Array.isArray(status.openFiles) ? status.openFiles.length : num(status.openFiles))])
  for (const cap of Array.isArray(status.listingCaps) ? (status.listingCaps as Json[]) : []) lines.push(['Listing cap', capLine(cap)])
  if (status.cacheDisk && typeof status.cacheDisk === 'object') {
    const disk = obj(status.cacheDisk)
    const free = `${formatBytes(num(disk.freeBytes))} free of ${formatBytes(num(disk.totalBytes))}`
    lines.push(['Cache disk', disk.full
      ? `FULL: ${String(disk.dir)} (${free}); new files and writes fail with ENOSPC until space is freed (deleting files works)`
      : `${String(disk.dir)} (${free})`])
  }
  const failures = Array.isArray(uploads.failures) ? (uploads.failures as Json[]) : []
  for (const failure of failures) lines.push(['Failed', `${String(failure.path)}: ${String(failure.error)}`])
  const width = Math.max(...lines.map(([label]) => label.length)) + 2
  const head = `${String(status.mountpoint)}  (${String(status.endpoint ?? '?')}${status.readOnly ? ', read-only' : ''})`
  return `${head}\n${lines.map(([label, value]) => `  ${label.padEnd(width)}${value}`).join('\n')}\n`
}
