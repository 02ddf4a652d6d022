/**
 * An opened account, for the mount and for commands that talk to the service: the client, with
 * its pacer gates in one file shared by every fichfs process of the user on this machine
 * (whatever the cache dir: 1fichier counts calls per IP and account, so two mounts and a
 * command beside them pace as one client), its download links in the account's database (a
 * link still valid is reused across processes), and the metadata store itself (`fichfs ls`
 * reads the same cache as the mount).
 */
import { createHash } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { LinkCache } from '../cache/link-cache.js'
import { openSharedGates } from '../cache/gate-db.js'
import { MetadataStore } from '../cache/metadata-store.js'
import { ApiErrorCodes, FichierApiError } from '../client/errors.js'
import { FichierClient } from '../client/fichier-client.js'
import { DEFAULT_PACER_OPTIONS, Pacer, scalePacerOptions } from '../client/pacer.js'
import type { Logger } from '../log.js'
import { DEFAULT_ENDPOINT } from '../client/trust.js'
import { accountCacheDir, accountCacheDirPath, defaultCacheDir, parseEndpoint, resolveApiKey, runtimeDir, type KeySource } from './config.js'

export interface AccountOptions {
  endpoint?: string
  apiKeyFile?: string
  cacheDir?: string
  /** Divide rate-limit timings (tests against a time-scaled emulator). */
  timeScale?: number
  /** Use this key instead of resolving one (already resolved, or typed at `fichfs login`). */
  apiKey?: string
  log?: Logger
}

export interface OpenAccount {
  client: FichierClient
  store: MetadataStore
  keySource: KeySource | 'given'
  accountDir: string
  /** `discard`: also remove the account's cache dir if this open created it (a rejected key). */
  close(options?: { discard?: boolean }): Promise<void>
}

/** A key the service refused: nothing of the cache dir it got is worth keeping. */
export function isRejectedKey(error: unknown): boolean {
  return error instanceof FichierApiError && error.code === ApiErrorCodes.auth
}

export function openAccount(options: AccountOptions): OpenAccount {
  if (options.endpoint !== undefined) parseEndpoint(options.endpoint)
  const resolved = options.apiKey ? { key: options.apiKey, source: 'given' as const } : resolveApiKey({ apiKeyFile: options.apiKeyFile })
  const scale = options.timeScale && options.timeScale > 0 ? options.timeScale : 1
  const created = !existsSync(accountCacheDirPath(options.cacheDir ?? defaultCacheDir(), options.endpoint, resolved.key))
  const accountDir = accountCacheDir(options.cacheDir ?? defaultCacheDir(), options.endpoint, resolved.key)
  const store = new MetadataStore(join(accountDir, 'metadata.sqlite'))
  const log = options.log
  const gates = openSharedGates(runtimeDir())
  const pacer = new Pacer(scalePacerOptions(DEFAULT_PACER_OPTIONS, scale), {
    store: gates,
    // Per API origin (one emulator is one service; the real one is api.1fichier.com) and account.
    scope: { service: new URL(options.endpoint ?? DEFAULT_ENDPOINT).origin, account: createHash('sha256').update(resolved.key).digest('hex').slice(0, 16) },
    onRetry: (event) => log?.warn({ endpoint: event.endpoint, kind: event.kind, attempt: event.attempt, delayMs: event.delayMs, err: (event.error as Error).message },
      event.kind === 'flood' ? `1fichier flood protection: cooling down for ${Math.round(event.delayMs / 1000)} s` : `${event.endpoint} failed (${(event.error as Error).message}); retrying`),
  })
  const client = new FichierClient({
    apiKey: resolved.key,
    endpoint: options.endpoint,
    pacer,
    uploadRetryDelayMs: Math.max(10, Math.round(2000 / scale)),
    endPollDelaysMs: [250, 500, 1000, 2000, 4000].map((ms) => Math.max(5, Math.round(ms / scale))),
    linkLifetimeMs: Math.max(1000, Math.round(4 * 60_000 / scale)),
    downloadRetryDelayMs: Math.max(10, Math.round(500 / scale)),
    // A remount (or `fichfs` beside the mount) reuses the links still young.
    linkStore: new LinkCache(store.db),
  })
  return {
    client,
    store,
    keySource: resolved.source,
    accountDir,
    close: async (closeOptions = {}) => {
      await client.close()
      store.close()
      gates.close()
      if (closeOptions.discard && created) rmSync(accountDir, { recursive: true, force: true })
    },
  }
}
