/**
 * A local 1fichier: api.1fichier.com/v1, the upload node and the download host on one port,
 * speaking the wire format of shared/1fichier-api.md strictly. See docs/EMULATOR.md.
 */
import { mkdir, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { randomInt } from 'node:crypto'
import { LIMITS } from '../client/wire.js'
import { Account } from './account.js'
import { accountTree, type TreeEntry } from './admin.js'
import type { EmulatorConfig, EmulatorContext, UploadLimits } from './context.js'
import { getMeta, openDatabase, setMeta } from './db.js'
import { FaultInjector, type EmulatorFaults } from './faults.js'
import { newApiKey } from './ids.js'
import { RateLimiter } from './rate-limiter.js'
import { RemoteUploads } from './remote.js'
import { seedAccount } from './seed.js'
import { createEmulatorServer } from './server.js'
import { Sessions } from './sessions.js'
import { StatsCollector, type EmulatorStats } from './stats.js'

export type { EmulatorFaults } from './faults.js'
export type { EmulatorStats, FloodRecord } from './stats.js'
export type { TreeEntry } from './admin.js'
export type { UploadLimits } from './context.js'

export interface EmulatorOptions {
  /** Where emulator.sqlite, blobs/ and tmp/ live; reused across restarts. */
  dataDir: string
  /** 0 (default) picks a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Default: FICHFS_EMULATOR_API_KEY, else the key stored in dataDir, else a new random one. */
  apiKey?: string
  /** Divides every window, lock and expiry (1 = real time). */
  timeScale?: number
  /** Enforce the flood rules (default true). */
  rateLimits?: boolean
  /** How long a flood locks the caller, before scaling (default 60000). */
  floodLockMs?: number
  /** host[:port] returned by get_upload_server (default 127.0.0.1:<port>). */
  uploadHost?: string
  /** scheme://host[:port] of download token URLs (default http://127.0.0.1:<port>). */
  downloadBase?: string
  /** Account size (default 100 GiB). */
  quotaBytes?: number
  email?: string
  /** Upload this local tree into the account at start. */
  seedDir?: string
  faults?: Partial<EmulatorFaults>
  /** Seed of the fault dice (default random), so a faulty run can be replayed. */
  faultSeed?: number
  /** Lower the service's upload limits (tests). */
  uploadLimits?: Partial<UploadLimits>
}

export interface Emulator {
  /** http://127.0.0.1:PORT/v1 */
  apiBase: string
  apiKey: string
  port: number
  /** http://127.0.0.1:PORT/__emulator */
  adminBase: string
  dataDir: string
  uploadHost: string
  downloadBase: string
  stats(): EmulatorStats
  resetStats(): void
  setFaults(partial: Partial<EmulatorFaults>): EmulatorFaults
  faults(): EmulatorFaults
  /** Clear every flood lock and rate window. */
  unlock(): void
  tree(): TreeEntry[]
  close(): Promise<void>
}

const GIB = 1024 ** 3
const FLOOD_RULES = {
  windowMs: 1000,
  maxCallsPerWindow: 3,
  folderListingGapMs: 30_000,
  allFilesListingGapMs: 3600_000,
  userInfoGapMs: 60_000,
} as const

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const dataDir = resolve(options.dataDir)
  const tmpDir = join(dataDir, 'tmp')
  const blobsDir = join(dataDir, 'blobs')
  // Temp files of uploads cut short by a previous stop are garbage.
  await rm(tmpDir, { recursive: true, force: true })
  await Promise.all([mkdir(tmpDir, { recursive: true }), mkdir(blobsDir, { recursive: true })])

  const timeScale = options.timeScale ?? 1
  if (!(timeScale > 0)) throw new Error('timeScale must be > 0')
  const scaled = (ms: number): number => ms / timeScale

  const db = openDatabase(join(dataDir, 'emulator.sqlite'))
  const account = new Account(db, blobsDir)
  const config: EmulatorConfig = {
    apiKey: resolveApiKey(options.apiKey, db),
    email: options.email ?? 'demo@fichfs.invalid',
    quotaBytes: options.quotaBytes ?? 100 * GIB,
    timeScale,
    dataDir,
    tmpDir,
    uploadHost: '',
    downloadBase: '',
    uploadLimits: {
      maxFileSize: LIMITS.maxFileSize,
      maxFiles: LIMITS.maxFilesPerUpload,
      maxRequestSize: LIMITS.maxRequestSize,
      ...options.uploadLimits,
    },
  }
  const limiter = new RateLimiter(
    {
      rulesEnabled: options.rateLimits ?? true,
      windowMs: scaled(FLOOD_RULES.windowMs),
      maxCallsPerWindow: FLOOD_RULES.maxCallsPerWindow,
      folderListingGapMs: scaled(FLOOD_RULES.folderListingGapMs),
      allFilesListingGapMs: scaled(FLOOD_RULES.allFilesListingGapMs),
      userInfoGapMs: scaled(FLOOD_RULES.userInfoGapMs),
      lockMs: scaled(options.floodLockMs ?? 60_000),
    },
    Date.now,
  )
  const ctx: EmulatorContext = {
    config,
    account,
    sessions: new Sessions(db, scaled),
    remote: new RemoteUploads(db, account, tmpDir, { maxFileSize: config.uploadLimits.maxFileSize, quotaBytes: config.quotaBytes }),
    limiter,
    faults: new FaultInjector(options.faults ?? {}, options.faultSeed ?? randomInt(2 ** 31)),
    stats: new StatsCollector(),
    scaled,
  }

  try {
    if (options.seedDir) await seedAccount(account, resolve(options.seedDir), tmpDir, (message) => process.stderr.write(`emulator: ${message}\n`))
  } catch (error) {
    db.close()
    throw error
  }

  const server = createEmulatorServer(ctx, { unlock: () => limiter.reset() })
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolveListen())
    })
  } catch (error) {
    db.close()
    throw error
  }
  const { port } = server.address() as AddressInfo
  config.uploadHost = options.uploadHost ?? `127.0.0.1:${port}`
  config.downloadBase = (options.downloadBase ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '')
  ctx.remote.resumePending()

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    await new Promise<void>((resolveClose) => {
      server.close(() => resolveClose())
      server.closeAllConnections()
    })
    await ctx.remote.close()
    db.close()
  }

  const local = `http://127.0.0.1:${port}`
  return {
    apiBase: `${local}/v1`,
    apiKey: config.apiKey,
    port,
    adminBase: `${local}/__emulator`,
    dataDir,
    uploadHost: config.uploadHost,
    downloadBase: config.downloadBase,
    stats: () => ctx.stats.snapshot(),
    resetStats: () => ctx.stats.reset(),
    setFaults: (partial) => ctx.faults.set(partial),
    faults: () => ctx.faults.current,
    unlock: () => limiter.reset(),
    tree: () => accountTree(account),
    close: () => (closing ??= close()),
  }
}

/** Explicit key, then the environment, then the key this dataDir already uses, then a new one. */
function resolveApiKey(explicit: string | undefined, db: ReturnType<typeof openDatabase>): string {
  const chosen = explicit ?? process.env.FICHFS_EMULATOR_API_KEY
  if (chosen) return chosen
  const stored = getMeta(db, 'api_key')
  if (stored) return stored
  const key = newApiKey()
  setMeta(db, 'api_key', key)
  return key
}
