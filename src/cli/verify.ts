/**
 * `fichfs verify`'s comparison of a local tree with a folder of the account, without
 * downloading anything: names (the mount's decoded names), sizes, and Whirlpool checksums (the
 * remote one from the listings, the local one computed here or remembered by path, size and
 * mtime).
 *
 * It runs in two passes. The first walks both trees (one folder/ls per remote folder, none for
 * a folder whose cached listing is fresh) and decides everything sizes and names can decide.
 * The second hashes only the local files whose remote twin has the same size and whose hash is
 * not remembered, so the progress display knows its total and nothing is hashed in vain.
 *
 * What is reported, like `rclone check`: files missing on 1fichier, extra ones there (unless
 * one-way), files that differ (size or checksum), names held by several files on 1fichier
 * (1fichier allows that; they are compared with each copy), files the mount has not uploaded
 * yet, and what could not be checked. A folder missing on one side is one finding, not one per
 * file under it; an extra folder is not listed.
 */
import type { Dirent } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { FileRow } from '../cache/metadata-store.js'
import type { LocalFileStamp } from '../cache/hash-cache.js'
import type { FolderView } from '../fs/namespace.js'

export type FindingKind = 'missing' | 'extra' | 'differ' | 'duplicate' | 'pending' | 'unchecked' | 'error'

export interface Finding {
  kind: FindingKind
  /** Relative to both roots, `/`-separated. */
  path: string
  type: 'file' | 'folder'
  /** differ: what differs. */
  reason?: 'size' | 'checksum'
  localSize?: number
  remoteSize?: number
  localWhirlpool?: string
  remoteWhirlpool?: string
  /** duplicate (and extra): how many files of this name 1fichier holds. */
  copies?: number
  /** duplicate: how many of those copies are identical to the local file. */
  identicalCopies?: number
  /** A missing folder: the local files under it. */
  files?: number
  /** extra: a file the mount holds that is not uploaded yet. */
  pending?: boolean
  /** error, unchecked: why. */
  message?: string
}

export interface VerifyReport {
  /** Every local file is on 1fichier with the same content (and, unless one-way, nothing else is there). */
  identical: boolean
  findings: Finding[]
  counts: Record<FindingKind | 'identical', number>
  local: { files: number; folders: number; bytes: number; skipped: number }
  hashed: { files: number; bytes: number; fromCache: number }
  /** API listings this run made (0 when every listing came from the metadata cache). */
  listings: number
}

/** What the comparison needs from the account: folder views through the metadata cache. */
export interface RemoteTree {
  view(folderId: number): Promise<FolderView>
  readonly listingCalls: number
}

export interface HashCache {
  lookup(stamp: LocalFileStamp): string | undefined
  remember(stamp: LocalFileStamp, whirlpool: string): void
}

export interface VerifyOptions {
  /** Absolute path of the local folder. */
  localRoot: string
  /** The account folder to compare it with. */
  folderId: number
  remote: RemoteTree
  hashes: HashCache
  hashFile(path: string, onBytes: (bytes: number) => void): Promise<string>
  /** Do not report what is only on 1fichier. */
  oneWay?: boolean
  /** Hash every file again, ignoring (and refreshing) remembered hashes. */
  rehash?: boolean
  onListing?(foldersSeen: number): void
  onHashing?(state: { done: number; total: number; path: string }): void
  /** A local entry that is neither a file nor a folder (a symlink, a socket...). */
  onSkipped?(path: string): void
}

interface PendingComparison {
  path: string
  stamp: LocalFileStamp
  /** The remote files of that name (several: a duplicate), all of the local file's size or not. */
  copies: FileRow[]
}

export async function verifyTrees(options: VerifyOptions): Promise<VerifyReport> {
  const findings: Finding[] = []
  const local = { files: 0, folders: 0, bytes: 0, skipped: 0 }
  let identical = 0
  let foldersSeen = 0
  const comparisons: PendingComparison[] = []

  const walk = async (dir: string, rel: string, folderId: number): Promise<void> => {
    const entries = await readLocalDir(dir, rel, findings)
    if (!entries) return
    const view = await options.remote.view(folderId)
    options.onListing?.(++foldersSeen)
    const subFolders = new Map(view.folders.map((folder) => [folder.name, folder]))
    const remoteByName = groupByName(view.remote)
    const journal = new Map(view.local.map((row) => [row.name, row]))
    const seen = new Set<string>()
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name
      const full = join(dir, entry.name)
      if (entry.isDirectory()) {
        local.folders++
        const folder = subFolders.get(entry.name)
        if (folder) {
          seen.add(`d:${entry.name}`)
          await walk(full, path, folder.id)
        } else {
          const inside = await countLocal(full)
          local.files += inside.files
          local.bytes += inside.bytes
          local.folders += inside.folders
          findings.push({ kind: 'missing', path, type: 'folder', files: inside.files })
        }
        continue
      }
      if (!entry.isFile()) {
        local.skipped++
        options.onSkipped?.(path)
        continue
      }
      let info
      try {
        info = await stat(full, { bigint: true })
      } catch (error) {
        findings.push({ kind: 'error', path, type: 'file', message: (error as Error).message })
        continue
      }
      const size = Number(info.size)
      local.files++
      local.bytes += size
      const pending = journal.get(entry.name)
      const copies = remoteByName.get(entry.name)
      if (pending) {
        seen.add(`f:${entry.name}`)
        // 1fichier cannot store an empty file: the mount keeps it in its journal, as it should.
        if (pending.state === 'empty' && size === 0) identical++
        else findings.push({ kind: 'pending', path, type: 'file', localSize: size, remoteSize: pending.size })
        continue
      }
      if (!copies) {
        findings.push({ kind: 'missing', path, type: 'file', localSize: size })
        continue
      }
      seen.add(`f:${entry.name}`)
      const sameSize = copies.filter((copy) => copy.size === size)
      if (sameSize.length === 0) {
        findings.push(copies.length > 1
          ? { kind: 'duplicate', path, type: 'file', copies: copies.length, identicalCopies: 0, localSize: size }
          : { kind: 'differ', path, type: 'file', reason: 'size', localSize: size, remoteSize: copies[0]?.size })
        continue
      }
      comparisons.push({ path, stamp: { path: full, size, mtimeNs: info.mtimeNs }, copies })
    }
    if (options.oneWay) return
    for (const folder of view.folders) {
      if (!seen.has(`d:${folder.name}`)) findings.push({ kind: 'extra', path: joinRel(rel, folder.name), type: 'folder' })
    }
    for (const [name, copies] of remoteByName) {
      if (!seen.has(`f:${name}`) && !journal.has(name)) {
        findings.push({ kind: 'extra', path: joinRel(rel, name), type: 'file', remoteSize: copies[0]?.size, ...(copies.length > 1 ? { copies: copies.length } : {}) })
      }
    }
    for (const row of view.local) {
      if (!seen.has(`f:${row.name}`)) findings.push({ kind: 'extra', path: joinRel(rel, row.name), type: 'file', remoteSize: row.size, pending: true })
    }
  }

  await walk(options.localRoot, '', options.folderId)

  // Second pass: checksums, for the files sizes could not tell apart.
  const hashed = { files: 0, bytes: 0, fromCache: 0 }
  const known = new Map<PendingComparison, string>()
  const toHash: PendingComparison[] = []
  for (const item of comparisons) {
    if (item.copies.every((copy) => !copy.checksum)) continue
    const remembered = options.rehash ? undefined : options.hashes.lookup(item.stamp)
    if (remembered) {
      known.set(item, remembered)
      hashed.fromCache++
    } else {
      toHash.push(item)
    }
  }
  const total = toHash.reduce((sum, item) => sum + item.stamp.size, 0)
  let done = 0
  for (const item of toHash) {
    options.onHashing?.({ done, total, path: item.path })
    try {
      const digest = await options.hashFile(item.stamp.path, (bytes) => {
        done += bytes
        options.onHashing?.({ done, total, path: item.path })
      })
      options.hashes.remember(item.stamp, digest)
      known.set(item, digest)
      hashed.files++
      hashed.bytes += item.stamp.size
    } catch (error) {
      findings.push({ kind: 'error', path: item.path, type: 'file', message: `cannot read it: ${(error as Error).message}` })
    }
  }

  for (const item of comparisons) {
    const size = item.stamp.size
    const remoteSums = item.copies.filter((copy) => copy.size === size).map((copy) => copy.checksum?.toLowerCase())
    if (remoteSums.every((sum) => !sum)) {
      findings.push({ kind: 'unchecked', path: item.path, type: 'file', localSize: size, message: 'no checksum on 1fichier; the sizes match' })
      continue
    }
    const digest = known.get(item)
    if (digest === undefined) continue // its read error is reported
    const matches = remoteSums.filter((sum) => sum === digest).length
    if (item.copies.length > 1) {
      findings.push({ kind: 'duplicate', path: item.path, type: 'file', copies: item.copies.length, identicalCopies: matches, localSize: size, localWhirlpool: digest })
    } else if (matches === 1) {
      identical++
    } else {
      findings.push({
        kind: 'differ', path: item.path, type: 'file', reason: 'checksum', localSize: size, remoteSize: size,
        localWhirlpool: digest, remoteWhirlpool: remoteSums[0],
      })
    }
  }

  findings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const counts: VerifyReport['counts'] = { identical, missing: 0, extra: 0, differ: 0, duplicate: 0, pending: 0, unchecked: 0, error: 0 }
  for (const finding of findings) counts[finding.kind]++
  return { identical: findings.length === 0, findings, counts, local, hashed, listings: options.remote.listingCalls }
}

/** A local folder's entries by name; an unreadable folder is a finding. */
async function readLocalDir(dir: string, rel: string, findings: Finding[]): Promise<Dirent[] | undefined> {
  try {
    const entries = await readdir(dir, { withFileTypes: true })
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  } catch (error) {
    if (rel === '') throw error
    findings.push({ kind: 'error', path: rel, type: 'folder', message: (error as Error).message })
    return undefined
  }
}

/** Files, folders and bytes under a local folder (for a folder missing on 1fichier). */
async function countLocal(dir: string): Promise<{ files: number; folders: number; bytes: number }> {
  const total = { files: 0, folders: 0, bytes: 0 }
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return total
  }
  for (const entry of entries) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) {
      const inside = await countLocal(full)
      total.files += inside.files
      total.bytes += inside.bytes
      total.folders += inside.folders + 1
    } else if (entry.isFile()) {
      total.files++
      total.bytes += await stat(full).then((info) => info.size, () => 0)
    }
  }
  return total
}

/** Remote files by their real name (the mount shows the later duplicates as `name (id).ext`). */
function groupByName(files: FileRow[]): Map<string, FileRow[]> {
  const byName = new Map<string, FileRow[]>()
  for (const file of files) {
    const group = byName.get(file.name)
    if (group) group.push(file)
    else byName.set(file.name, [file])
  }
  // The copy the mount shows under the plain name first.
  for (const group of byName.values()) group.sort((a, b) => (a.displayName === a.name ? -1 : b.displayName === b.name ? 1 : 0))
  return byName
}

function joinRel(rel: string, name: string): string {
  return rel ? `${rel}/${name}` : name
}
