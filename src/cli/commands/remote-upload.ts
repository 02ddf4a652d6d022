/**
 * `fichfs remote-upload URL... --to PATH`: 1fichier fetches the URLs itself, straight into a
 * folder of the account (remote/request), so nothing passes through this machine.
 * `--status [ID]` shows requests (remote/ls, remote/info); `--wait` waits until the files have
 * arrived and are listed, then prints their paths in the account.
 */
import type { Argv, CommandModule } from 'yargs'
import type { RemoteUploadStatus } from '../../client/types.js'
import { FichfsError } from '../../errors.js'
import type { Namespace } from '../../fs/namespace.js'
import { parseDuration } from '../config.js'
import { printJson } from '../format.js'
import { openNamespace, resolveEntry, withAccountAt } from '../lookup.js'
import { accountOptions, withAccount, type AccountArgs, type AccountSession } from '../options.js'
import { createProgress } from '../progress.js'

interface RemoteUploadArgs extends AccountArgs {
  urls: string[]
  to: string
  status?: string
  wait: boolean
  json: boolean
  timeout: string
}

/** A file that arrived, as the account's listing shows it. */
export interface ArrivedFile {
  path: string
  url: string
  size: number
  whirlpool?: string
  source: string
}

interface RequestFact {
  folderId: number
  urls: string[]
}

/** Remembered per request so that `--status ID --wait` knows where the files land. */
const factKey = (id: number) => `remote-upload:${id}`

export const remoteUploadCommand: CommandModule<object, RemoteUploadArgs> = {
  command: 'remote-upload [urls..]',
  describe: 'Have 1fichier fetch files from URLs into the account',
  builder: (yargs) => accountOptions(yargs)
    .positional('urls', { type: 'string', array: true, describe: 'http(s) URLs for 1fichier to fetch' })
    .option('to', { type: 'string', default: '/', describe: 'Account folder to put the files in (or a folder inside a running mount)' })
    .option('status', { type: 'string', describe: 'Show requests (all, or the one with this ID) instead of making one' })
    .option('wait', { type: 'boolean', default: false, describe: 'Wait until the files are in the account, then print their paths' })
    .option('timeout', { type: 'string', default: '1h', describe: 'Give up waiting after this long (the request goes on at 1fichier)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
    .example('$0 remote-upload https://example.com/big.iso --to /isos --wait', 'fetch, wait, print /isos/big.iso')
    .example('$0 remote-upload --status', 'list requests') as unknown as Argv<RemoteUploadArgs>,
  handler: async (args) => {
    if (args.status !== undefined) return showStatus(args)
    const urls = (args.urls ?? []).map(String)
    if (urls.length === 0) {
      throw new FichfsError('FICHFS_NO_URL', 'name at least one URL to fetch', { hint: 'fichfs remote-upload URL... --to PATH, or --status to follow requests.' })
    }
    for (const url of urls) {
      if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw new FichfsError('FICHFS_BAD_URL', `not an http(s) URL: ${url}`)
    }
    await withAccountAt(args, args.to, async (session, located) => {
      const namespace = openNamespace(session)
      const entry = await resolveEntry(namespace, located)
      if (entry.kind !== 'folder') throw new FichfsError('FICHFS_NOT_A_FOLDER', `${located.accountPath} is not a folder`, { hint: '--to names the folder the files go into.' })
      const request = await session.client.remoteRequest(urls, entry.folder.id)
      session.store.setFact(factKey(request.id), { folderId: entry.folder.id, urls } satisfies RequestFact)
      session.log.info({ id: request.id, folder: located.accountPath, urls: urls.length }, 'remote upload requested')
      if (!args.wait) {
        if (args.json) printJson({ id: request.id, folder: located.accountPath, urls })
        else process.stdout.write(`${request.id}\n`)
        process.stderr.write(`fichfs: 1fichier will fetch ${urls.length} URL(s) into ${located.accountPath} (request ${request.id}). ` +
          `Follow it with: fichfs remote-upload --status ${request.id} --wait\n`)
        return
      }
      process.stderr.write(`fichfs: 1fichier is fetching ${urls.length} URL(s) into ${located.accountPath} (request ${request.id})\n`)
      const arrived = await waitAndList(session, namespace, [request.id], parseDuration(args.timeout))
      report(args, arrived, { id: request.id, folder: located.accountPath, urls })
    })
  },
}

async function showStatus(args: RemoteUploadArgs): Promise<void> {
  const id = args.status === '' ? undefined : Number(args.status)
  if (id !== undefined && !Number.isInteger(id)) throw new FichfsError('FICHFS_BAD_ID', `not a request id: ${args.status}`, { hint: '`fichfs remote-upload --status` lists the ids.' })
  await withAccount(args, async (session) => {
    if (args.wait) {
      const ids = id !== undefined ? [id] : (await session.client.remoteList()).filter((entry) => !entry.executedAt).map((entry) => entry.id)
      if (ids.length === 0) {
        process.stderr.write('fichfs: no remote upload is pending.\n')
        if (args.json) printJson({ files: [] })
        return
      }
      const arrived = await waitAndList(session, openNamespace(session), ids, parseDuration(args.timeout))
      report(args, arrived, id !== undefined ? { id } : { ids })
      return
    }
    if (id !== undefined) {
      const info = await session.client.remoteInfo(id)
      if (args.json) printJson(info)
      else process.stdout.write(describeRequest(info))
      return
    }
    const list = await session.client.remoteList()
    if (args.json) {
      printJson(list)
      return
    }
    if (list.length === 0) process.stdout.write('No remote upload requests.\n')
    for (const entry of list) {
      process.stdout.write(`${String(entry.id).padStart(8)}  requested ${localTime(entry.requestedAt)}  ${entry.executedAt ? `done ${localTime(entry.executedAt)}` : 'pending'}\n`)
    }
  })
}

function describeRequest(info: RemoteUploadStatus): string {
  const lines = [`Request ${info.id}: requested ${localTime(info.requestedAt)}, ${info.executedAt ? `done ${localTime(info.executedAt)}` : 'pending'}`]
  for (const result of info.results) {
    lines.push(result.ok ? `  OK  ${result.url} -> ${result.downloadLink}` : `  KO  ${result.url}: ${result.message || 'failed'}`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * Poll remote/info until every request is done (a progress display meanwhile), then make sure
 * the new files are listed (the folder's cached listing is dropped and listed again, at the
 * pace the per-folder gate allows) and return them with their paths.
 */
async function waitAndList(session: AccountSession, namespace: Namespace, ids: number[], timeoutMs: number): Promise<{ files: ArrivedFile[]; failures: Array<{ url: string; message: string }> }> {
  const started = Date.now()
  const deadline = started + timeoutMs
  const pollMs = Math.max(50, Math.round(5000 / session.scale))
  const facts = new Map(ids.map((id) => [id, session.store.getFact<RequestFact>(factKey(id))?.value]))
  const total = ids.reduce((sum, id) => sum + (facts.get(id)?.urls.length ?? 1), 0)
  const progress = createProgress({ label: 'fichfs: URLs fetched by 1fichier', unit: 'items', plainEveryMs: Math.max(1000, pollMs * 2) })
  const done = new Map<number, RemoteUploadStatus>()
  for (;;) {
    let fetched = 0
    for (const id of ids) {
      if (done.has(id)) {
        fetched += done.get(id)?.results.length ?? 0
        continue
      }
      const info = await session.client.remoteInfo(id)
      if (info.executedAt) done.set(id, info)
      fetched += info.results.length
    }
    const elapsed = Math.round((Date.now() - started) / 1000)
    progress.update({ done: Math.min(fetched, total), total, detail: `${elapsed} s elapsed` })
    if (done.size === ids.length) break
    if (Date.now() > deadline) {
      progress.finish()
      throw new FichfsError('FICHFS_TIMEOUT', `1fichier has not finished after ${elapsed} s`, {
        hint: `The request goes on; check later with: fichfs remote-upload --status ${ids.join(' / ')}`,
      })
    }
    await sleep(pollMs)
  }
  progress.finish(`fichfs: 1fichier has handled ${total === 1 ? 'the URL' : `the ${total} URLs`} (${Math.round((Date.now() - started) / 1000)} s); listing the new files`)

  const failures: Array<{ url: string; message: string }> = []
  const wanted: Array<{ link: string; source: string; folderId?: number }> = []
  for (const [id, info] of done) {
    for (const result of info.results) {
      if (result.ok && result.downloadLink) wanted.push({ link: result.downloadLink, source: result.url, folderId: facts.get(id)?.folderId })
      else failures.push({ url: result.url, message: result.message || 'failed' })
    }
  }
  const files: ArrivedFile[] = []
  for (const item of wanted) files.push(await findListed(session, namespace, item, deadline))
  return { files, failures }
}

/** List the file's folder again until the listing shows it (paced by the folder's gate). */
async function findListed(session: AccountSession, namespace: Namespace, item: { link: string; source: string; folderId?: number }, deadline: number): Promise<ArrivedFile> {
  let folderId = item.folderId
  // A destination removed meanwhile sends the file to the root; file/info says where it is.
  if (folderId === undefined || !session.store.folder(folderId)) {
    const details = await session.client.fileInfo(item.link)
    folderId = details.folderId ?? 0
    if (!session.store.folder(folderId) && details.path !== undefined) folderId = (await namespace.resolveFolder(details.path)).id
  }
  for (let attempt = 0; ; attempt++) {
    namespace.invalidate(folderId)
    await namespace.ensureListed(folderId)
    const row = session.store.fileByUrl(item.link)
    if (row) {
      return { path: session.store.pathOf(row.folderId, row.displayName), url: row.url, size: row.size, whirlpool: row.checksum ?? undefined, source: item.source }
    }
    if (Date.now() > deadline || attempt >= 10) {
      throw new FichfsError('FICHFS_NOT_LISTED', `1fichier reported ${item.link} but its folder does not list it`, { hint: 'Try `fichfs ls` on the folder in a minute.' })
    }
    session.log.info({ url: item.link }, 'not listed yet; listing the folder again')
  }
}

function report(args: RemoteUploadArgs, outcome: { files: ArrivedFile[]; failures: Array<{ url: string; message: string }> }, request: Record<string, unknown>): void {
  if (args.json) printJson({ ...request, files: outcome.files, failures: outcome.failures })
  else for (const file of outcome.files) process.stdout.write(`${file.path}\n`)
  for (const failure of outcome.failures) process.stderr.write(`fichfs: 1fichier could not fetch ${failure.url}: ${failure.message}\n`)
  if (outcome.failures.length > 0) {
    throw new FichfsError('FICHFS_REMOTE_FAILED', `${outcome.failures.length} of ${outcome.failures.length + outcome.files.length} URL(s) could not be fetched`, {
      hint: 'Check that the URLs answer with the file (not a login page) from the Internet.',
    })
  }
}

function localTime(date: Date | undefined): string {
  if (!date) return '?'
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
