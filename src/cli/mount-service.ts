/**
 * A running mount: the one place that wires the concrete parts together (client, pacer,
 * metadata store, block cache, filesystem core, FUSE adapter, control socket) and runs the
 * lifecycle: check the key, resume the upload queue, mount, serve, then on stop upload what is
 * pending (or leave it journaled) and unmount.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import type { Server } from 'node:net'
import { join, resolve } from 'node:path'
import { lockCacheDir, type CacheLock } from '../cache/cache-lock.js'
import { neverReached } from '../client/retry.js'
import { DEFAULT_ENDPOINT } from '../client/trust.js'
import { FichfsError } from '../errors.js'
import { freeReserveIfFull } from '../fs/cache-space.js'
import { FichierFs } from '../fs/fichier-fs.js'
import { mountFuse, type FuseMount } from '../fs/fuse-adapter.js'
import { blockCacheFor, readerOptionsFor } from '../fs/reader.js'
import { youngCollector } from './settle.js'
import type { UploadStatus } from '../fs/uploader.js'
import type { Logger } from '../log.js'
import { isRejectedKey, openAccount } from './account.js'
import { accountCacheDirPath } from './config.js'
import { serveControl, socketPathFor } from './control.js'
import { unescapeMountField } from './paths.js'

export interface MountSettings {
  mountpoint: string
  apiKey: string
  endpoint?: string
  cacheDir: string
  readOnly: boolean
  allowOther: boolean
  dirCacheTimeMs: number
  writeBackMs: number
  /** Attempts per file before it is marked failed (default 8). */
  uploadAttempts?: number
  /** Deletions go to the account's trash folder (default on). */
  trash?: boolean
  /** Trash entries older than this are deleted for good (default 30 days; 0: never). */
  trashRetentionMs?: number
  memoryCacheBytes: number
  diskCacheBytes: number
  /** Download connections at once, all files together (default 12). */
  downloadConnections?: number
  /** Divide every rate-limit duration (for an emulator started with --time-scale). */
  timeScale: number
  debugFuse?: boolean
}

export const DEFAULT_TRASH_RETENTION_MS = 30 * 86_400_000

export interface MountService {
  readonly mountpoint: string
  readonly fs: FichierFs
  status(): Record<string, unknown>
  /**
   * Upload what is pending (unless `wait` is false), unmount, close. Idempotent: a later call
   * joins the stop under way, and its `wait: false` or aborted `signal` stops the waiting for
   * every caller (a second signal, `fichfs unmount --no-wait`), whoever started the stop.
   */
  stop(options: { wait: boolean; onProgress?: (status: UploadStatus) => void; signal?: AbortSignal }): Promise<UploadStatus>
  /** Resolves when the mount has stopped (by stop() or an external unmount). */
  readonly stopped: Promise<void>
}

/** Kept free on the cache disk for the journal (cache-space.ts). */
const CACHE_DISK_RESERVE_BYTES = 4 << 20

export async function startMount(settings: MountSettings, log: Logger): Promise<MountService> {
  const mountpoint = resolve(settings.mountpoint)
  checkMountpoint(mountpoint)
  const scale = settings.timeScale
  // On a full cache disk, the journal cannot even be opened without the room the reserve gives.
  freeReserveIfFull(accountCacheDirPath(settings.cacheDir, settings.endpoint, settings.apiKey), CACHE_DISK_RESERVE_BYTES)
  const account = openAccount({ apiKey: settings.apiKey, endpoint: settings.endpoint, cacheDir: settings.cacheDir, timeScale: scale, log })
  const { client, store, accountDir } = account
  // Before anything reads the journal: a second daemon on this cache would resume (and upload)
  // the first one's queue.
  let lock: CacheLock
  try {
    lock = lockCacheDir(accountDir, mountpoint)
  } catch (error) {
    await account.close()
    throw error
  }
  const pacer = client.pacer
  const blockCache = blockCacheFor(settings.memoryCacheBytes, join(accountDir, 'blocks'), settings.diskCacheBytes)
  const fs = new FichierFs(client, store, blockCache, {
    readOnly: settings.readOnly,
    dirCacheTimeMs: settings.dirCacheTimeMs,
    quotaCacheTimeMs: Math.max(1000, Math.round(5 * 60_000 / scale)),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    fileMode: 0o644,
    dirMode: 0o755,
    spoolDir: join(accountDir, 'spool'),
    // Room for the journal to record deletes and failed writes when the disk fills up.
    cacheSpace: { dir: accountDir, reserveBytes: CACHE_DISK_RESERVE_BYTES },
    reader: readerOptionsFor(settings.memoryCacheBytes, settings.downloadConnections, youngCollector()),
    trash: settings.trash === false ? undefined : { retentionMs: settings.trashRetentionMs ?? DEFAULT_TRASH_RETENTION_MS },
    uploader: {
      writeBackDelayMs: settings.writeBackMs,
      maxAttempts: settings.uploadAttempts ?? 8,
      retryBaseMs: Math.max(10, Math.round(5000 / scale)),
      retryMaxMs: Math.max(100, Math.round(5 * 60_000 / scale)),
    },
  }, log)

  // Fail before mounting when the key is wrong or the service unreachable: listing the root
  // proves both, and fills the cache for the first `ls` (a fresh cache costs nothing).
  try {
    await fs.namespace.ensureListed(0)
  } catch (error) {
    lock.release()
    await account.close({ discard: isRejectedKey(error) })
    if (neverReached(error)) {
      throw new FichfsError('FICHFS_UNREACHABLE', `cannot reach 1fichier at ${settings.endpoint ?? DEFAULT_ENDPOINT} (${(error as Error).message}); not mounting`, {
        cause: error,
        hint: 'Check the network connection (and --endpoint). fichfs does not mount an account it cannot list; ' +
          'run the command again once the service answers (the systemd unit does, every 30 s).',
      })
    }
    throw error
  }
  // Resolve the socket path now: after mounting, a realpath of the mountpoint would ask this
  // very process for its attributes and deadlock (shared/fuse-native.md §3.1).
  const socketPath = socketPathFor(mountpoint)
  const resumed = fs.start()
  if (resumed > 0) log.info({ files: resumed }, 'resuming uploads left by an earlier run')

  let fuse: FuseMount
  try {
    fuse = await mountFuse(fs, { mountpoint, allowOther: settings.allowOther, debug: settings.debugFuse, dirCacheTimeMs: settings.dirCacheTimeMs }, log)
  } catch (error) {
    fs.uploader.stop()
    await account.close()
    lock.release()
    throw new FichfsError('FICHFS_MOUNT', `could not mount ${mountpoint}: ${(error as Error).message}`, {
      cause: error, hint: 'Is FUSE installed (apt-get install fuse libfuse2) and /dev/fuse usable by you?',
    })
  }
  log.info({ mountpoint }, 'mounted')

  let stopping: Promise<UploadStatus> | undefined
  // One for the whole stop, whoever asks: any caller may end the wait for all of them.
  const giveUp = new AbortController()
  const progressListeners = new Set<(status: UploadStatus) => void>()
  let markStopped!: () => void
  const stopped = new Promise<void>((done) => {
    markStopped = done
  })
  const status = () => ({
    mountpoint,
    endpoint: settings.endpoint ?? DEFAULT_ENDPOINT,
    readOnly: settings.readOnly,
    uploads: fs.uploader.status(),
    trash: fs.trash ? fs.trash.summary() : null,
    api: pacer.stats(),
    cache: blockCache.stats(),
    reader: { ...fs.reader.stats(), ...client.downloadStats() },
    writes: fs.writeStats(),
    listings: fs.namespace.listingCalls,
    listingCaps: fs.namespace.cappedFolders(),
    metadata: { ...fs.namespace.counters, attrCache: { ...fs.attrCounters } },
    ops: fuse.ops(),
    kernel: fuse.kernel,
    cacheDir: settings.cacheDir,
    cacheDisk: fs.space.status(),
    account: store.getFact('account')?.value,
    openFiles: fs.openHandles(),
    memory: process.memoryUsage(),
  })

  const service: MountService = {
    mountpoint,
    fs,
    status,
    stopped,
    stop: (options) => {
      if (options.onProgress) progressListeners.add(options.onProgress)
      if (options.signal?.aborted || !options.wait) giveUp.abort()
      else options.signal?.addEventListener('abort', () => giveUp.abort(), { once: true })
      if (stopping && giveUp.signal.aborted) log.info('stop: not waiting for pending uploads any longer')
      stopping ??= (async () => {
        log.info({ wait: options.wait }, 'stopping')
        // Waiting for uploads makes no sense while 1fichier cannot be reached: they stay queued.
        const outageWatch = setInterval(() => {
          if (giveUp.signal.aborted || !pacer.stats().unreachable) return
          log.warn('1fichier cannot be reached: not waiting for pending uploads; they stay queued for the next mount')
          giveUp.abort()
        }, 500)
        const final = await fs.shutdown({
          wait: !giveUp.signal.aborted,
          signal: giveUp.signal,
          onProgress: (progress) => {
            for (const listener of progressListeners) listener(progress)
          },
        }).finally(() => clearInterval(outageWatch))
        log.info({ pending: final.pending, failed: final.failed }, 'upload queue settled; unmounting')
        // Each step is bounded: the queue is journaled by now, so nothing is lost if one hangs,
        // and a stop that never ends is worse than a stale mount the next mount clears.
        const unmounted = await within(10_000, fuse.unmount()).catch((error: unknown) => {
          log.warn({ err: (error as Error).message }, 'unmount reported an error')
          return true
        })
        if (!unmounted) log.warn({ mountpoint }, 'unmount did not finish in 10 s; going on')
        control.close()
        if (!(await within(5_000, account.close()))) log.warn('closing the API client took over 5 s; going on')
        lock.release()
        log.info('stopped')
        markStopped()
        return final
      })()
      return stopping
    },
  }

  // Someone ran `fusermount -u` (or `umount`) directly: finish the queue, then stop.
  const watch = setInterval(() => {
    if (!stopping && !isMounted(mountpoint)) {
      log.warn({ mountpoint }, 'unmounted from outside; finishing pending uploads')
      void service.stop({ wait: true })
    }
  }, 2000)
  watch.unref()
  void stopped.then(() => clearInterval(watch))

  const control: Server = serveControl(socketPath, async (request, send) => {
    if (request.cmd === 'status') return send({ ok: true, status: status() })
    if (request.cmd === 'unmount') {
      // Answer at once (a busy daemon draining for an earlier unmount is still alive), then
      // join the stop; --no-wait ends the waiting of the stop under way.
      send({ progress: fs.uploader.status() })
      const final = await service.stop({ wait: request.wait !== false, onProgress: (progress) => send({ progress }) })
      return send({ ok: true, done: true, status: final })
    }
    send({ ok: false, error: `unknown command ${String(request.cmd)}` })
  })
  return service
}

/** true once `work` settles, false if `ms` pass first (its failure is still thrown). */
async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([work.then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Is a FUSE filesystem mounted at this path? (Reads /proc, never the mount itself.) */
export function isMounted(mountpoint: string): boolean {
  const type = mountTypeAt(mountpoint)
  return type === null || (type ?? '').startsWith('fuse')
}

/** The type of what is mounted at this path (undefined: nothing; null: /proc unreadable). */
function mountTypeAt(mountpoint: string): string | undefined | null {
  let text: string
  try {
    text = readFileSync('/proc/self/mounts', 'utf8')
  } catch {
    return null
  }
  // /proc/mounts escapes space, tab, newline and backslash in paths (\040, \011, \012, \134).
  let found: string | undefined
  for (const line of text.split('\n')) {
    const [, point, type] = line.split(' ')
    if (point !== undefined && unescapeMountField(point) === mountpoint) found = type ?? ''
  }
  return found
}

/** A FUSE mount nobody serves: a look-up inside it answers ENOTCONN. */
function isStale(mountpoint: string): boolean {
  try {
    statSync(join(mountpoint, '.fichfs-stale-probe'))
    return false
  } catch (error) {
    return (error as { code?: string }).code === 'ENOTCONN'
  }
}

function checkMountpoint(mountpoint: string): void {
  if (!existsSync('/dev/fuse')) {
    throw new FichfsError('FICHFS_NO_FUSE', '/dev/fuse is missing', { hint: 'Install FUSE: apt-get install fuse libfuse2 (and load the fuse module).' })
  }
  try {
    if (!statSync(mountpoint).isDirectory()) throw new FichfsError('FICHFS_MOUNTPOINT', `${mountpoint} is not a directory`)
    // Said plainly here: FUSE's own refusal would only read "could not mount".
    const type = mountTypeAt(mountpoint)
    // A FUSE mount whose daemon died (the kernel may still answer for its root from its cache)
    // is cleared by the adapter before mounting.
    if (type && !(type.startsWith('fuse') && isStale(mountpoint))) {
      throw new FichfsError('FICHFS_MOUNTPOINT_BUSY', `${mountpoint} is already a mount point (${type})`, {
        hint: type === 'fuse.fichfs' ? 'A fichfs mount is running there: `fichfs status` shows it, `fichfs unmount` stops it.' : 'Unmount it first, or choose another directory.',
      })
    }
    if (readdirSync(mountpoint).length > 0) {
      throw new FichfsError('FICHFS_MOUNTPOINT_NOT_EMPTY', `${mountpoint} is not empty`, {
        hint: 'fichfs mounts on an empty directory only (what is in it would be hidden under the mount): choose an empty one, or move its contents away.',
      })
    }
  } catch (error) {
    if (error instanceof FichfsError) throw error
    const code = (error as { code?: string }).code
    if (code === 'ENOENT') mkdirSync(mountpoint, { recursive: true })
    // ENOTCONN: a stale mount from a crash; the adapter clears it (force) before mounting.
    else if (code !== 'ENOTCONN') throw new FichfsError('FICHFS_MOUNTPOINT', `cannot use ${mountpoint}: ${code}`, { cause: error })
  }
}
