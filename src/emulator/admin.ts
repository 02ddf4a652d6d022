import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Account } from './account.js'
import type { EmulatorContext } from './context.js'
import { validateFaults } from './faults.js'
import { clientIp, isLoopback, readSmallBody, sendJson } from './http.js'
import { fileUrl } from './ids.js'

export const ADMIN_PREFIX = '/__emulator'

export interface TreeEntry {
  /** `/a/b.txt`: from the account root, with a leading slash. */
  path: string
  type: 'folder' | 'file'
  /** Bytes for a file, 0 for a folder. */
  size: number
  whirlpool: string | null
  url: string | null
  /** Folder id for a folder, the containing folder's id for a file. */
  folderId: number
}

/** Every folder and file of the account, parents before children (for tests). */
export function accountTree(account: Account): TreeEntry[] {
  const entries: TreeEntry[] = []
  const visit = (folderId: number, prefix: string): void => {
    for (const file of account.filesIn(folderId)) {
      entries.push({ path: `${prefix}/${file.filename}`, type: 'file', size: file.size, whirlpool: file.whirlpool, url: fileUrl(file.id), folderId })
    }
    for (const folder of account.subFolders(folderId)) {
      const path = `${prefix}/${folder.name}`
      entries.push({ path, type: 'folder', size: 0, whirlpool: null, url: null, folderId: folder.id })
      visit(folder.id, path)
    }
  }
  visit(0, '')
  return entries
}

export interface AdminActions {
  unlock(): void
}

/** /__emulator/*: no key, loopback callers only, never delayed or faulted. */
export async function handleAdmin(ctx: EmulatorContext, actions: AdminActions, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (!isLoopback(clientIp(req))) return sendJson(res, 403, { error: 'admin endpoints answer loopback callers only' })
  const route = `${req.method ?? 'GET'} ${path.slice(ADMIN_PREFIX.length)}`
  switch (route) {
    case 'GET /stats':
      return sendJson(res, 200, ctx.stats.snapshot(), true)
    case 'POST /reset-stats':
      ctx.stats.reset()
      return sendJson(res, 200, { ok: true })
    case 'POST /unlock':
      actions.unlock()
      return sendJson(res, 200, { ok: true })
    case 'GET /tree':
      return sendJson(res, 200, accountTree(ctx.account), true)
    case 'GET /faults':
      return sendJson(res, 200, ctx.faults.current)
    case 'POST /faults':
      return updateFaults(ctx, req, res)
    default:
      return sendJson(res, 404, { error: `unknown admin call ${route}` })
  }
}

async function updateFaults(ctx: EmulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body: unknown = JSON.parse((await readSmallBody(req, 64 * 1024)).toString('utf8') || '{}')
    const { seed, ...faults } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
    if (seed !== undefined) {
      if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new Error('seed must be an integer')
      ctx.faults.reseed(seed)
    }
    sendJson(res, 200, ctx.faults.set(validateFaults(faults)))
  } catch (error) {
    sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) })
  }
}
