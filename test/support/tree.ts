/** Local trees of known content, to seed the emulator or rsync into a mount. */
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** Write `size` random bytes to `path`, in chunks (300 MB never sits in memory). */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const out = createWriteStream(path)
  const chunk = 4 << 20
  for (let written = 0; written < size; written += chunk) {
    const piece = randomBytes(Math.min(chunk, size - written))
    if (!out.write(piece)) await new Promise<void>((resolve) => out.once("drain", () => resolve()))
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
}

export interface TreeSpec {
  /** Relative path -> size in bytes (random content) or a string (that content). */
  files: Record<string, number | string>
  /** Extra empty folders. */
  folders?: string[]
}

export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  await mkdir(root, { recursive: true })
  for (const folder of spec.folders ?? []) await mkdir(join(root, folder), { recursive: true })
  for (const [path, content] of Object.entries(spec.files)) {
    const full = join(root, path)
    if (typeof content === 'string') {
      await mkdir(dirname(full), { recursive: true })
      await writeFile(full, content)
    } else {
      await writeRandomFile(full, content)
    }
  }
}

/** Every folder of a tree spec, including the root (''), as the mount should list them. */
export function foldersOf(spec: TreeSpec): string[] {
  const folders = new Set<string>([''])
  const add = (path: string) => {
    const parts = path.split('/')
    for (let i = 1; i <= parts.length; i++) folders.add(parts.slice(0, i).join('/'))
  }
  for (const path of Object.keys(spec.files)) add(dirname(path) === '.' ? '' : dirname(path))
  for (const folder of spec.folders ?? []) add(folder)
  folders.delete('.')
  return [...folders].filter((folder) => folder !== '.').sort()
}

/** 500 small files (some empty), odd names, nested folders and one 200 MB file. */
export function backupSpec(): TreeSpec {
  const files: TreeSpec['files'] = {}
  for (let i = 1; i <= 500; i++) files[`small/file-${String(i).padStart(3, '0')}.dat`] = i % 50 === 0 ? 0 : 1 + ((i * 7919) % 20_000)
  Object.assign(files, {
    'nested/deeper/still deeper/leaf.txt': 'leaf\n',
    'nested/empty.txt': 0,
    'with space/a file with spaces.txt': 'spaces\n',
    'unicode/ünïcødé 日本語 ☃.txt': 'unicode\n',
    'forbidden/q"uote\'s <lt> $dollar `tick` back\\slash.txt': 'forbidden\n',
    'forbidden/ leading and trailing .txt ': 'spaces around\n',
    'forbidden/．already fullwidth＂.txt': 'fullwidth\n',
    'big/200mb.bin': 200_000_000,
  })
  return { files, folders: ['empty folder'] }
}
