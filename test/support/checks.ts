/** Compare what the emulator stores with a local tree. */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { whirlpool } from 'hash-wasm'
import { expect } from 'vitest'
import { encodeName } from '../../src/client/names.js'
import type { Emulator } from '../../src/emulator/index.js'

export interface LocalFile {
  path: string
  size: number
}

export async function listLocalFiles(root: string): Promise<LocalFile[]> {
  const out: LocalFile[] = []
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else if (entry.isFile()) out.push({ path: relative(root, full), size: (await stat(full)).size })
    }
  }
  await walk(root)
  return out.sort((a, b) => a.path.localeCompare(b.path))
}

/** The account path of a local relative path, as the service stores it (encoded names). */
export function storedPath(prefix: string, relativePath: string): string {
  return [prefix, ...relativePath.split('/')].filter(Boolean).map(encodeName).map((part) => `/${part}`).join('')
}

/**
 * Every non-empty local file is on the emulator exactly once, with the same Whirlpool; nothing
 * else is in that folder. Returns the number of files checked.
 */
export async function expectStoredExactly(emu: Emulator, localRoot: string, accountFolder: string): Promise<number> {
  const local = (await listLocalFiles(localRoot)).filter((file) => file.size > 0)
  const stored = emu.tree().filter((entry) => entry.type === 'file' && entry.path.startsWith(`${storedPath('', accountFolder)}/`))
  const byPath = new Map(stored.map((entry) => [entry.path, entry]))
  const problems: string[] = []
  // 1fichier allows two files of one name: a second copy is a problem too.
  for (const path of byPath.keys()) {
    const copies = stored.filter((entry) => entry.path === path).length
    if (copies > 1) problems.push(`${copies} copies of ${path}`)
  }
  for (const file of local) {
    const entry = byPath.get(storedPath(accountFolder, file.path))
    if (!entry) {
      problems.push(`missing ${file.path}`)
      continue
    }
    byPath.delete(storedPath(accountFolder, file.path))
    if (entry.size !== file.size) problems.push(`size of ${file.path}: ${entry.size} != ${file.size}`)
    else if (entry.whirlpool !== (await whirlpool(await readFile(join(localRoot, file.path))))) problems.push(`checksum of ${file.path}`)
  }
  for (const extra of byPath.keys()) problems.push(`unexpected ${extra}`)
  for (const entry of hiddenNames(emu)) problems.push(`libfuse hidden name on 1fichier: ${entry}`)
  if (problems.length > 0) throw new Error(`emulator content differs:\n${problems.slice(0, 20).join('\n')}`)
  return local.length
}

/** The account folder the mount's trash lives in (src/fs/trash.ts). */
export const TRASH_FOLDER = '/.fichfs-trash'

/**
 * What the emulator holds in the trash folder: file names with their sizes, sorted (files keep
 * their names there; a second copy of a name shows twice), and the folders directly in it.
 */
export function trashContent(emu: Emulator): { files: string[]; folders: string[] } {
  const tree = emu.tree()
  const files = tree.filter((entry) => entry.type === 'file' && entry.path.startsWith(`${TRASH_FOLDER}/`))
    .map((entry) => `${entry.path.slice(TRASH_FOLDER.length + 1)}:${entry.size}`).sort()
  const folders = tree.filter((entry) => entry.type === 'folder' && entry.path.startsWith(`${TRASH_FOLDER}/`) && !entry.path.slice(TRASH_FOLDER.length + 1).includes('/'))
    .map((entry) => entry.path.slice(TRASH_FOLDER.length + 1)).sort()
  return { files, folders }
}

/** Nothing met 1fichier's flood protection on this emulator, and no libfuse hidden name reached it. */
export function expectNoFloods(emu: Emulator): void {
  const floods = emu.stats().floods
  expect(floods.total, `floods: ${JSON.stringify(floods.last)}`).toBe(0)
  expectNoHiddenNames(emu)
}

/** libfuse's name for a file unlinked while open (`.fuse_hidden…`) must never reach 1fichier. */
export function expectNoHiddenNames(emu: Emulator): void {
  expect(hiddenNames(emu)).toEqual([])
}

function hiddenNames(emu: Emulator): string[] {
  return emu.tree().map((entry) => entry.path).filter((path) => path.split('/').some((name) => name.startsWith('.fuse_hidden')))
}

/**
 * API calls by endpoint since the last `mark()`: `spent()` answers only the endpoints whose
 * count moved, so a budget asserts exactly what an operation cost.
 */
export function callMeter(emu: () => Emulator): { mark(): void; spent(): Record<string, number> } {
  let before: Record<string, number> = {}
  return {
    mark: () => {
      before = { ...emu().stats().calls }
    },
    spent: () => {
      const out: Record<string, number> = {}
      for (const [path, count] of Object.entries(emu().stats().calls)) if (count !== (before[path] ?? 0)) out[path] = count - (before[path] ?? 0)
      return out
    },
  }
}
