/**
 * Deletions that wait, and go in batches: the versions an overwrite replaced, copies nobody
 * should keep, and what is deleted for good from the trash. Each waits in the metadata store
 * (pending_rm, or a trash entry in state 'moving'), so a crash or an unmount loses none of them:
 * the next mount finishes the work. Replaced versions go to the trash when it is on (moved 100
 * per file/mv call), everything else is deleted 100 URLs per file/rm call.
 */
import type { MetadataStore } from '../cache/metadata-store.js'
import { ApiErrorCodes, FichierApiError } from '../client/errors.js'
import type { Logger } from '../log.js'
import type { Trash } from './trash.js'

export interface DeleterRemote {
  removeFiles(urls: string[]): Promise<number>
}

/** URLs per call, and how many waiting make a batch go at once. */
const BATCH = 100

export class Deleter {
  private running?: Promise<void>
  /** What the runner is asked to do next: everything, or full batches only (soon()). */
  private wanted?: 'all' | 'full'
  private timer?: NodeJS.Timeout
  private stopped = false

  constructor(
    private readonly store: MetadataStore,
    private readonly remote: DeleterRemote,
    private readonly trash: Trash | undefined,
    /** soon() waits this long without another request before it sends a batch. */
    private readonly quietMs: number,
    private readonly log?: Logger,
  ) {}

  /**
   * A remote file is no longer the current version of its name (an overwrite's old version):
   * into the trash when it is on (with its stored mtime and mode), else deleted; the cache
   * forgets it now. Synchronous, so it can be part of the caller's transaction; run() does the
   * API calls.
   */
  discard(url: string, reason: string): void {
    const file = this.store.fileByUrl(url)
    if (this.trash && file && !this.trash.contains(file.folderId)) {
      this.trash.queueFile(file, 'overwritten')
      return
    }
    this.store.deleteFile(url)
    this.store.deleteAttrs(url)
    this.store.addPendingRemoval(url, reason)
  }

  /** Send what waits, now; resolves once nothing that can be done now is left. One runner at a time. */
  run(): Promise<void> {
    return this.schedule('all')
  }

  /**
   * Send what waits once requests stop coming for the quiet time, and full batches at once, so
   * that `rm` of 300 files in the trash costs 3 calls, not 300 (nor 4).
   */
  soon(): void {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.run()
    }, this.quietMs)
    if (this.store.pendingRemovals().length >= BATCH) void this.schedule('full')
  }

  private schedule(mode: 'all' | 'full'): Promise<void> {
    this.wanted = this.wanted === 'all' || mode === 'all' ? 'all' : 'full'
    this.running ??= (async () => {
      try {
        // What is asked for while a round runs gets a round of its own.
        while (this.wanted) {
          const fullOnly = this.wanted === 'full'
          this.wanted = undefined
          await this.round(fullOnly)
        }
      } finally {
        this.running = undefined
      }
    })()
    return this.running
  }

  /** Deletions and moves into the trash still to send. */
  pending(): number {
    const moving = this.store.trashEntries().filter((row) => row.state === 'moving').length
    return this.store.pendingRemovals().length + moving
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  private async round(fullOnly: boolean): Promise<void> {
    if (this.trash && !fullOnly) {
      try {
        await this.trash.moveQueued()
      } catch (error) {
        this.log?.warn({ err: (error as Error).message }, 'could not move replaced versions into the trash yet; will retry')
      }
    }
    const tried = new Set<string>()
    for (;;) {
      // Each URL once per round: whatever is still listed afterwards waits for the next round.
      const batch = this.store.pendingRemovals().filter((url) => !tried.has(url)).slice(0, BATCH)
      if (batch.length === 0 || (fullOnly && batch.length < BATCH)) return
      for (const url of batch) tried.add(url)
      try {
        await this.remote.removeFiles(batch)
      } catch (error) {
        // 1fichier answers "not found" only when none of them exists any more: nothing to delete.
        if (!(error instanceof FichierApiError && error.code === ApiErrorCodes.notFound)) {
          this.log?.warn({ count: batch.length, err: (error as Error).message }, 'could not delete replaced files yet; will retry')
          return
        }
      }
      for (const url of batch) this.store.removePendingRemoval(url)
    }
  }
}
