/**
 * The upload queue: turns closed local files into 1fichier files.
 *
 * A file is uploaded once it is closed (no writer left) and its folder has been quiet for the
 * write-back delay, so that rsync's "write .name.XXXXXX, close, rename to name" uploads once,
 * under the final name, and so that many small files closed together in one folder go up in
 * one request (the API takes up to 500 files per request: one get_upload_server call each).
 *
 * Everything it works on is journaled in MetadataStore.local_files, so a crash or an unmount
 * loses nothing: the next mount resumes the queue. A failed upload is retried with backoff;
 * after `maxAttempts` the file stays local, marked failed, visible, and reported.
 *
 * After an upload the journal row is re-read: the file may have been renamed, moved, rewritten
 * or deleted meanwhile, and the result is reconciled (rename/move it, or delete the stale copy).
 *
 * A file that was on the wire when an earlier run died may have arrived all the same: before
 * sending it again, the folder is listed once and an arrived copy (same name, size and
 * Whirlpool) is adopted instead of uploading a duplicate.
 */
import { createReadStream } from 'node:fs'
import { FichierApiError } from '../client/errors.js'
import { neverReached, uploadMayHaveArrived } from '../client/retry.js'
import type { UploadResult, UploadSource } from '../client/types.js'
import { whirlpoolOfFile } from '../client/whirlpool.js'
import type { FileRow, LocalFileRow, MetadataStore } from '../cache/metadata-store.js'
import type { Logger } from '../log.js'
import type { Deleter } from './deleter.js'
import { fsError } from './errors.js'
import type { Spool } from './spool.js'

export interface UploadRemote {
  upload(folderId: number, sources: UploadSource[], options?: { onProgress?: (bytes: number) => void; signal?: AbortSignal }): Promise<UploadResult>
  renameFile(url: string, newName: string): Promise<string>
  moveFile(url: string, destinationId: number, rename?: string): Promise<string>
  removeFiles(urls: string[]): Promise<number>
}

export interface UploaderOptions {
  /** A closed file waits this long without another close in its folder before it uploads. */
  writeBackDelayMs: number
  /** ...but never longer than this after its own close, so a busy folder still uploads. */
  maxBatchDelayMs: number
  maxBatchFiles: number
  maxBatchBytes: number
  /** Upload requests in parallel. */
  concurrency: number
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** At a stop, how long to wait for files still open for writing to be closed. */
  closeGraceMs: number
}

/** How long kicks wait for each other before one scan serves them all. */
const KICK_COALESCE_MS = 100

export const DEFAULT_UPLOADER_OPTIONS: UploaderOptions = {
  writeBackDelayMs: 2_000,
  maxBatchDelayMs: 30_000,
  maxBatchFiles: 500,
  maxBatchBytes: 4 * 1024 ** 3,
  concurrency: 2,
  maxAttempts: 8,
  retryBaseMs: 5_000,
  retryMaxMs: 5 * 60_000,
  closeGraceMs: 3_000,
}

export interface UploadStatus {
  /** Files waiting (closed or still open) and uploading. */
  pending: number
  uploading: number
  failed: number
  bytesPending: number
  bytesSent: number
  /** Replaced versions still to delete from 1fichier or move into the trash (done right after their replacement). */
  deletesPending: number
  failures: Array<{ path: string; error: string }>
}

/** What the filesystem knows of open local files (kept in memory, not in the journal). */
export interface LocalTracker {
  /** Handles open for writing. */
  writers(localId: number): number
  /** A counter bumped by every change of content; equal values mean equal content. */
  seq(localId: number): number
  /** An upload of content `seq` succeeded while the file stayed open or changed again. */
  noteUploaded(localId: number, seq: number, url: string): void
  /** Make sure the store holds a listing of the folder made at `since` or later. */
  listedSince(folderId: number, since: number): Promise<void>
  /** The file at `url` was just uploaded from this spool file: keep what a first read would want. */
  keepUploaded(url: string, spoolPath: string, size: number): Promise<void>
}

interface Snapshot {
  id: number
  seq: number
  folderId: number
  name: string
  size: number
  spoolPath: string
  replacesUrl: string | null
  mtime: number
  mode: number | null
}

export class Uploader {
  private readonly options: UploaderOptions
  private timer?: NodeJS.Timeout
  /** A scan is already scheduled to run within KICK_COALESCE_MS. */
  private scanSoon = false
  private running = 0
  private readonly busyFolders = new Set<number>()
  private readonly urgent = new Set<number>()
  private readonly waiters = new Map<number, Array<{ resolve(): void; reject(error: Error): void }>>()
  private readonly controllers = new Map<number, AbortController>()
  private readonly inFlightBytes = new Map<number, number>()
  private draining = false
  private stopped = false
  /**
   * Journal rows whose last upload may have arrived although it did not succeed here (it was
   * under way when an earlier run stopped, or it failed after reaching the service), with
   * since when: a listing made after that shows whether it did.
   */
  private readonly interrupted = new Map<number, number>()
  /** Journal rows an earlier run left (their writers are gone). */
  private readonly recovered = new Set<number>()
  private bytesSentTotal = 0
  private readonly createdAt = Date.now()

  constructor(
    private readonly store: MetadataStore,
    private readonly remote: UploadRemote,
    private readonly spool: Spool,
    private readonly deleter: Deleter,
    private readonly tracker: LocalTracker,
    private readonly describePath: (folderId: number, name: string) => string,
    options: Partial<UploaderOptions> = {},
    private readonly log?: Logger,
  ) {
    this.options = { ...DEFAULT_UPLOADER_OPTIONS, ...options }
  }

  /** At mount: put interrupted work back in the queue. */
  recover(): number {
    let count = 0
    const incomplete = this.store.writeFailures()
    for (const row of this.store.allLocalFiles()) {
      if (row.state === 'empty') continue
      const writeFailure = incomplete.get(row.id)
      if (writeFailure !== undefined) {
        // A write into it failed (a full cache disk): never sent as if complete, now or later.
        this.store.updateLocalFile(row.id, { state: 'failed', lastError: writeFailure })
        continue
      }
      if (!row.spoolPath || !this.spool.exists(row.spoolPath)) {
        this.store.updateLocalFile(row.id, { state: 'failed', lastError: 'the local copy is missing from the spool' })
        continue
      }
      const size = this.spool.sizeOnDisk(row.spoolPath)
      this.recovered.add(row.id)
      if (row.state === 'uploading' && size === row.size) this.interrupted.set(row.id, this.createdAt)
      this.store.updateLocalFile(row.id, { state: size === 0 ? 'empty' : 'queued', size, readyAt: Date.now(), attempts: 0 })
      if (size > 0) count++
    }
    // Deletions of replaced versions that an earlier run could not finish.
    void this.removePending()
    this.kick()
    return count
  }

  /**
   * Something changed in the journal: look for work. A scan reads every journal row, so the
   * kicks of a burst (5,000 files closed one after the other) share one scan per 100 ms instead
   * of one scan each; an fsync (`urgent`) scans at once.
   */
  kick(urgent = false): void {
    if (this.stopped) return
    if (this.scanSoon && !urgent) return
    if (this.timer) clearTimeout(this.timer)
    this.scanSoon = true
    this.timer = setTimeout(() => {
      this.scanSoon = false
      this.scanSafely()
    }, urgent ? 0 : KICK_COALESCE_MS)
  }

  /** Upload this file now (skipping the write-back delay) and resolve once it is uploaded. */
  flush(localId: number): Promise<void> {
    const row = this.store.localFileById(localId)
    if (!row || row.state === 'empty') return Promise.resolve()
    const writeFailure = this.store.writeFailures().get(localId)
    if (writeFailure !== undefined) return Promise.reject(fsError('EIO', `${this.describePath(row.folderId, row.name)}: ${writeFailure}`))
    if (row.state === 'failed') {
      // One last attempt for the fsync; if it fails too, the fsync fails with it.
      this.store.updateLocalFile(localId, { state: 'queued', attempts: this.options.maxAttempts - 1, readyAt: Date.now() })
    }
    this.urgent.add(localId)
    const promise = new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(localId) ?? []
      list.push({ resolve, reject })
      this.waiters.set(localId, list)
    })
    this.kick(true)
    return promise
  }

  /** Abort the upload of a file that was deleted or rewritten. */
  abort(localId: number): void {
    this.controllers.get(localId)?.abort()
  }

  /**
   * Upload everything now and wait. Files that end up failed are returned (they stay journaled).
   * `onProgress` is called about every 200 ms.
   */
  async drain(onProgress?: (status: UploadStatus) => void, signal?: AbortSignal): Promise<UploadStatus> {
    this.draining = true
    this.kick()
    const started = Date.now()
    try {
      for (;;) {
        const status = this.status()
        onProgress?.(status)
        const open = this.store.allLocalFiles().filter((row) => this.tracker.writers(row.id) > 0).length
        // The kernel sends RELEASE after close() has returned to the program: a file closed
        // just before the stop may still look open. Give such files a moment to close.
        const closingSoon = open > 0 && Date.now() - started < this.options.closeGraceMs
        if (status.pending - open <= 0 && this.running === 0 && !closingSoon) {
          await this.removePending()
          return this.status()
        }
        if (signal?.aborted) return status
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    } finally {
      this.draining = false
    }
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    for (const controller of this.controllers.values()) controller.abort()
  }

  status(): UploadStatus {
    const rows = this.store.allLocalFiles()
    // A file a write failed on is failed whatever its state says (its close may not have been
    // journaled on a full disk): nobody waits for it.
    const incomplete = this.store.writeFailures()
    const active = rows.filter((row) => !incomplete.has(row.id) && (row.state === 'queued' || row.state === 'uploading' || row.state === 'writing'))
    const failed = rows.filter((row) => row.state === 'failed' || (incomplete.has(row.id) && row.state !== 'empty'))
    return {
      pending: active.length,
      uploading: rows.filter((row) => row.state === 'uploading').length,
      failed: failed.length,
      bytesPending: active.reduce((sum, row) => sum + row.size, 0),
      bytesSent: this.bytesSentTotal + [...this.inFlightBytes.values()].reduce((a, b) => a + b, 0),
      deletesPending: this.deleter.pending(),
      failures: failed.map((row) => ({ path: this.describePath(row.folderId, row.name), error: incomplete.get(row.id) ?? row.lastError ?? 'unknown error' })),
    }
  }

  // -------------------------------------------------------------------------------------------

  /** A scan that fails (the journal refusing a write on a full disk) is tried again shortly. */
  private scanSafely(): void {
    try {
      this.scan()
    } catch (error) {
      this.log?.warn({ err: (error as Error).message }, 'the upload queue could not be read or updated; trying again in 1 s')
      if (!this.stopped) this.timer = setTimeout(() => this.scanSafely(), 1000)
    }
  }

  private scan(): void {
    this.timer = undefined
    if (this.stopped) return
    const now = Date.now()
    const byFolder = new Map<number, LocalFileRow[]>()
    let nextWake = Infinity
    const incomplete = this.store.writeFailures()
    for (const row of this.store.allLocalFiles()) {
      if (row.state === 'empty') {
        if (row.replacesUrl) nextWake = Math.min(nextWake, this.settleEmpty(row, now))
        continue
      }
      const writeFailure = incomplete.get(row.id)
      if (writeFailure !== undefined) {
        this.refuseIncomplete(row, writeFailure)
        continue
      }
      const urgent = this.urgent.has(row.id)
      // An fsync uploads a file that is still open; otherwise only closed files go.
      if (row.state !== 'queued' && !(urgent && row.state === 'writing')) continue
      if (this.tracker.writers(row.id) > 0 && !urgent) continue
      // rsync's temporary files (.name.XXXXXX) are renamed right after close; should the rename
      // lag, waiting longer still beats uploading under the temporary name and renaming. One
      // left by a crash will not be renamed: its writer is gone.
      const waitForRename = looksTemporary(row.name) && !this.draining && !this.recovered.has(row.id)
      const readyAt = (row.readyAt ?? now) + (waitForRename ? this.options.maxBatchDelayMs : 0)
      // Retries keep their back-off even when someone waits for them.
      if (readyAt > now && (!urgent || row.attempts > 0)) {
        nextWake = Math.min(nextWake, readyAt)
        continue
      }
      const list = byFolder.get(row.folderId) ?? []
      list.push(row)
      byFolder.set(row.folderId, list)
    }
    for (const [folderId, rows] of byFolder) {
      if (this.busyFolders.has(folderId)) continue
      const newest = Math.max(...rows.map((row) => row.readyAt ?? now))
      const oldest = Math.min(...rows.map((row) => row.readyAt ?? now))
      const quietAt = Math.min(newest + this.options.writeBackDelayMs, oldest + this.options.maxBatchDelayMs)
      const due = this.draining || rows.some((row) => this.urgent.has(row.id)) || rows.length >= this.options.maxBatchFiles || quietAt <= now
      if (!due) {
        nextWake = Math.min(nextWake, quietAt)
        continue
      }
      if (this.running >= this.options.concurrency) {
        nextWake = Math.min(nextWake, now + 100)
        continue
      }
      this.startBatch(folderId, this.pickBatch(rows))
    }
    if (nextWake !== Infinity) this.timer = setTimeout(() => this.scanSafely(), Math.max(10, nextWake - now))
  }

  /**
   * An empty file that replaced a remote one (truncated to zero and left so): once quiet for
   * the write-back delay, the old remote version goes. Returns when to look again.
   */
  private settleEmpty(row: LocalFileRow, now: number): number {
    const due = (row.readyAt ?? now) + this.options.writeBackDelayMs
    if (this.tracker.writers(row.id) > 0) return Infinity
    if (due > now && !this.draining) return due
    const url = row.replacesUrl as string
    this.store.db.transaction(() => {
      this.store.updateLocalFile(row.id, { replacesUrl: null })
      this.deleter.discard(url, 'truncated to zero bytes')
    })()
    void this.removePending()
    return Infinity
  }

  private pickBatch(rows: LocalFileRow[]): LocalFileRow[] {
    const batch: LocalFileRow[] = []
    let bytes = 0
    for (const row of rows.sort((a, b) => a.id - b.id)) {
      if (batch.length >= this.options.maxBatchFiles) break
      if (batch.length > 0 && bytes + row.size > this.options.maxBatchBytes) break
      batch.push(row)
      bytes += row.size
    }
    return batch
  }

  private startBatch(folderId: number, rows: LocalFileRow[]): void {
    this.running++
    this.busyFolders.add(folderId)
    const snapshots: Snapshot[] = rows.map((row) => ({
      id: row.id, seq: this.tracker.seq(row.id), folderId: row.folderId, name: row.name, size: row.size,
      spoolPath: row.spoolPath as string, replacesUrl: row.replacesUrl, mtime: row.mtime, mode: row.mode,
    }))
    for (const row of rows) this.store.updateLocalFile(row.id, { state: 'uploading' })
    this.runBatch(folderId, snapshots)
      .catch((error: unknown) => this.log?.error({ err: (error as Error).message }, 'upload batch crashed'))
      .finally(() => {
        this.running--
        this.busyFolders.delete(folderId)
        this.kick()
      })
  }

  private async runBatch(folderId: number, whole: Snapshot[]): Promise<void> {
    const batch = whole.some((item) => this.interrupted.has(item.id)) ? await this.adoptArrived(folderId, whole) : whole
    if (batch.length === 0) return
    const controller = new AbortController()
    for (const item of batch) this.controllers.set(item.id, controller)
    const key = batch[0]?.id ?? 0
    const sources: UploadSource[] = batch.map((item) => ({
      name: item.name, size: item.size, path: item.spoolPath, open: () => createReadStream(item.spoolPath, { highWaterMark: 1 << 20 }),
      // Hashed while it was written (spool-hash.ts), when its writes allowed.
      whirlpool: this.spool.whirlpool(item.spoolPath, item.size),
    }))
    const totalBytes = batch.reduce((sum, item) => sum + item.size, 0)
    this.log?.info({ folderId, files: batch.length, bytes: totalBytes }, 'uploading')
    let result: UploadResult
    try {
      result = await this.remote.upload(folderId, sources, {
        signal: controller.signal,
        onProgress: (bytes) => this.inFlightBytes.set(key, bytes),
      })
    } catch (error) {
      this.inFlightBytes.delete(key)
      for (const item of batch) this.controllers.delete(item.id)
      for (const item of batch) this.failed(item, error as Error)
      return
    }
    this.inFlightBytes.delete(key)
    this.bytesSentTotal += totalBytes
    for (const item of batch) this.controllers.delete(item.id)
    // Duplicate names in one batch are matched in order by the client.
    const uploaded = new Map<string, typeof result.uploaded>()
    for (const file of result.uploaded) uploaded.set(file.name, [...(uploaded.get(file.name) ?? []), file])
    const failures = new Map(result.failed.map((failure) => [failure.name, failure.error]))
    for (const item of batch) {
      const file = uploaded.get(item.name)?.shift()
      if (file) await this.succeeded(item, file.url, file.whirlpool, file.size, false)
      else this.failed(item, failures.get(item.name) ?? new Error('not confirmed by 1fichier'))
    }
    // The versions this batch replaced go together: 100 per call, not one call each.
    await this.removePending()
  }

  /** `removeNow` false: the caller deletes the replaced versions of a whole batch together. */
  private async succeeded(item: Snapshot, url: string, checksum: string, size: number, removeNow = true): Promise<void> {
    const row = this.store.localFileById(item.id)
    if (!row) {
      // Deleted while uploading: this copy must not stay.
      this.log?.info({ url }, 'file deleted while uploading; deleting the uploaded copy')
      this.store.addPendingRemoval(url, 'deleted while uploading')
      if (removeNow) await this.removePending()
      this.settle(item.id)
      return
    }
    const remote = { url, name: item.name, size, uploadedAt: Date.now(), checksum }
    if (this.tracker.seq(item.id) !== item.seq || this.tracker.writers(item.id) > 0) {
      // Still open (an fsync) or changed since: the upload is a good older version. It becomes
      // the version this file replaces, and the one it replaced before can go.
      this.store.db.transaction(() => {
        this.store.putFile(item.folderId, remote)
        if (row.replacesUrl && row.replacesUrl !== url) this.deleter.discard(row.replacesUrl, 'superseded by a newer upload')
        const changed = this.tracker.seq(item.id) !== item.seq
        this.store.updateLocalFile(row.id, {
          replacesUrl: url, state: this.tracker.writers(item.id) > 0 ? 'writing' : 'queued', readyAt: Date.now(),
          ...(changed ? {} : { attempts: 0 }),
        })
      })()
      this.tracker.noteUploaded(item.id, item.seq, url)
      if (removeNow) await this.removePending()
      this.settle(item.id)
      return
    }
    // Record the file under the name it was uploaded with, then follow a rename made meanwhile.
    this.store.db.transaction(() => {
      this.store.putFile(item.folderId, remote)
      this.store.setAttrs(url, { mtime: row.mtime, mode: row.mode ?? undefined })
      this.store.deleteLocalFile(row.id)
      if (row.replacesUrl && row.replacesUrl !== url) this.deleter.discard(row.replacesUrl, 'replaced by a new version')
    })()
    // Its head and tail are here now: a file manager's first look at it will cost no call.
    await this.tracker.keepUploaded(url, item.spoolPath, size)
    await this.spool.remove(item.spoolPath)
    if (row.folderId !== item.folderId || row.name !== item.name) await this.follow(url, item, row)
    if (removeNow) await this.removePending()
    this.log?.info({ path: this.describePath(row.folderId, row.name), bytes: size }, 'uploaded')
    this.settle(item.id)
  }

  /**
   * Adopt the copies of interrupted uploads that reached 1fichier (one listing of the folder);
   * returns the files still to upload. Only a Whirlpool match counts: without a checksum, the
   * file is sent again, as a duplicate is better than a file with other content.
   */
  private async adoptArrived(folderId: number, batch: Snapshot[]): Promise<Snapshot[]> {
    const candidates = new Set(batch.filter((item) => this.interrupted.has(item.id)).map((item) => item.id))
    const since = Math.max(...[...candidates].map((id) => this.interrupted.get(id) ?? this.createdAt))
    for (const id of candidates) this.interrupted.delete(id)
    let files: FileRow[]
    try {
      // A listing made after the upload was cut shows it if it arrived (for a crash, any
      // listing of this run: the mount lists the root first).
      await this.tracker.listedSince(folderId, since)
      files = this.store.files(folderId)
    } catch (error) {
      this.log?.warn({ folderId, err: (error as Error).message }, 'could not check whether interrupted uploads arrived; sending them again')
      return batch
    }
    const claimed = new Set<string>()
    const rest: Snapshot[] = []
    for (const item of batch) {
      const arrived = candidates.has(item.id) ? await this.findArrived(item, files, claimed) : undefined
      if (!arrived) {
        rest.push(item)
        continue
      }
      claimed.add(arrived.url)
      this.log?.info({ path: this.describePath(item.folderId, item.name), url: arrived.url }, 'an interrupted upload had arrived; adopting it instead of sending it again')
      await this.succeeded(item, arrived.url, arrived.checksum as string, arrived.size)
    }
    return rest
  }

  private async findArrived(item: Snapshot, files: FileRow[], claimed: Set<string>): Promise<FileRow | undefined> {
    const alike = files.filter((file) => file.name === item.name && file.size === item.size && file.checksum &&
      file.url !== item.replacesUrl && !claimed.has(file.url))
    if (alike.length === 0) return undefined
    const local = await (this.spool.whirlpool(item.spoolPath, item.size) ?? whirlpoolOfFile(item.spoolPath)).catch(() => '')
    return local ? alike.find((file) => file.checksum?.toLowerCase() === local) : undefined
  }

  /** The file was renamed or moved while it uploaded: do the same to the remote copy. */
  private async follow(url: string, item: Snapshot, row: LocalFileRow): Promise<void> {
    this.log?.info({ from: this.describePath(item.folderId, item.name), to: this.describePath(row.folderId, row.name) }, 'renamed while uploading: renaming the uploaded file too')
    try {
      const newUrl = row.folderId !== item.folderId
        ? await this.remote.moveFile(url, row.folderId, row.name !== item.name ? row.name : undefined)
        : await this.remote.renameFile(url, row.name)
      const file = this.store.fileByUrl(url)
      this.store.deleteFile(url)
      if (file) this.store.putFile(row.folderId, { url: newUrl, name: row.name, size: file.size, uploadedAt: file.uploadedAt ?? undefined, checksum: file.checksum ?? undefined })
      this.store.moveAttrs(url, newUrl)
    } catch (error) {
      this.log?.error({ url, err: (error as Error).message }, 'could not rename the uploaded file to its new name; it keeps the name it was uploaded with')
    }
  }

  private failed(item: Snapshot, error: Error): void {
    const row = this.store.localFileById(item.id)
    if (!row) return this.settle(item.id)
    // Rewritten meanwhile: the new content is queued on its own (an fsync keeps waiting for it).
    if (row.state !== 'uploading') return
    // The service could not be reached at all (an outage): not the file's fault, so it costs no
    // attempt; it is tried again after the first back-off, as long as the outage lasts.
    const unreachable = neverReached(error)
    const attempts = unreachable ? row.attempts : row.attempts + 1
    const final = attempts >= this.options.maxAttempts || !retryable(error)
    // Cut after it reached the service (a reset, a lost answer): it may be there all the same,
    // and sending it again would make a second copy.
    if (!final && uploadMayHaveArrived(error)) this.interrupted.set(item.id, Date.now())
    const message = error.message
    const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** Math.max(0, attempts - 1))
    this.store.updateLocalFile(row.id, {
      attempts, lastError: message, state: final ? 'failed' : 'queued', readyAt: Date.now() + delay,
    })
    const path = this.describePath(row.folderId, row.name)
    if (final) {
      this.log?.error({ path, attempts, err: message }, 'upload failed for good; the file stays in the local spool (see `fichfs status`)')
      this.settle(item.id, fsError('EIO', `upload of ${path} failed: ${message}`))
    } else {
      this.log?.warn({ path, attempts, retryInMs: delay, err: message }, 'upload failed, will retry')
      // An fsync waiting on this file keeps waiting through retries.
      this.urgent.delete(item.id)
      if (this.waiters.has(item.id)) this.urgent.add(item.id)
    }
  }

  /** A file a write failed on stays local, marked failed; whoever waits for it is told. */
  private refuseIncomplete(row: LocalFileRow, writeFailure: string): void {
    if (this.tracker.writers(row.id) > 0) return
    if (row.state !== 'failed') {
      this.store.updateLocalFile(row.id, { state: 'failed', lastError: writeFailure })
      this.log?.error({ path: this.describePath(row.folderId, row.name) }, `not uploading an incomplete file: ${writeFailure}`)
    }
    this.settle(row.id, fsError('EIO', `${this.describePath(row.folderId, row.name)}: ${writeFailure}`))
  }

  private settle(localId: number, error?: Error): void {
    this.urgent.delete(localId)
    const list = this.waiters.get(localId)
    this.waiters.delete(localId)
    for (const waiter of list ?? []) error ? waiter.reject(error) : waiter.resolve()
  }

  /** Delete remote files queued for removal (replaced versions, obsolete copies), or trash them (deleter.ts). */
  removePending(): Promise<void> {
    return this.deleter.run()
  }

}

/** rsync's temporary names: `.` + the final name + `.` + six random characters. */
export function looksTemporary(name: string): boolean {
  return /^\..+\.[A-Za-z0-9]{6}$/.test(name)
}

function retryable(error: Error): boolean {
  if (!(error instanceof FichierApiError)) return true
  // A bad key, a refused name or size will not get better by retrying.
  return !['FICHFS_AUTH', 'FICHFS_NO_SUCH_USER', 'FICHFS_PREMIUM_REQUIRED', 'FICHFS_INVALID_NAME', 'FICHFS_TOO_LARGE'].includes(error.code)
}
