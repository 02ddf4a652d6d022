/**
 * Paths on the command line. A PATH is a path in the account (`/docs/a.txt`, or `docs/a.txt`
 * from the root), unless it lies inside a running fichfs mount (`~/1fichier/docs/a.txt`, or a
 * relative path while the current directory is in the mount): then it is mapped to the account
 * path, and the mount's endpoint and cache are used, so the command sees what the mount sees.
 *
 * Mounts are found in /proc/self/mounts (type fuse.fichfs), not by probing directories: a path
 * outside every mount never touches one.
 */
import { readFileSync } from 'node:fs'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { requestControl, socketPathFor } from './control.js'

export interface LocatedPath {
  /** Always absolute in the account: `/`, `/docs/a.txt`. */
  accountPath: string
  /** The mount the path was found in, with what its status said (endpoint, cache dir). */
  mount?: { mountpoint: string; endpoint?: string; cacheDir?: string }
}

/** `docs//a.txt/` → `/docs/a.txt`; `..` above the root stays at the root, as in a shell. */
export function normalizeAccountPath(path: string): string {
  const clean: string[] = []
  for (const part of path.split('/')) {
    if (part === '..') clean.pop()
    else if (part !== '' && part !== '.') clean.push(part)
  }
  return `/${clean.join('/')}`
}

/** The mountpoints of running fichfs mounts (type fuse.fichfs). */
export function fichfsMountpoints(mountsFile = '/proc/self/mounts'): string[] {
  let text: string
  try {
    text = readFileSync(mountsFile, 'utf8')
  } catch {
    return []
  }
  return text.split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === 'fuse.fichfs' && fields[1])
    .map((fields) => unescapeMountField(fields[1] as string))
}

/** /proc/mounts writes space, tab, newline and backslash as octal escapes. */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** The mountpoint containing `absolute` (the deepest one), if any. */
export function mountContaining(absolute: string, mountpoints: string[]): string | undefined {
  let best: string | undefined
  for (const mountpoint of mountpoints) {
    const rel = relative(mountpoint, absolute)
    const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
    if (inside && (!best || mountpoint.length > best.length)) best = mountpoint
  }
  return best
}

/**
 * Where a PATH argument points. Absolute paths inside a mount and relative paths while the
 * current directory is inside a mount are mapped; everything else is an account path.
 */
export async function locatePath(input: string | undefined, options: { cwd?: string; mountpoints?: string[] } = {}): Promise<LocatedPath> {
  const cwd = options.cwd ?? process.cwd()
  const mountpoints = options.mountpoints ?? fichfsMountpoints()
  const given = input ?? ''
  const candidate = isAbsolute(given) ? resolve(given) : resolve(cwd, given)
  const inCwdMount = mountContaining(cwd, mountpoints)
  const mountpoint = isAbsolute(given) ? mountContaining(candidate, mountpoints) : inCwdMount
  if (!mountpoint) return { accountPath: normalizeAccountPath(given) }
  const rel = relative(mountpoint, candidate)
  const accountPath = normalizeAccountPath(rel.split(sep).join('/'))
  return { accountPath, mount: { mountpoint, ...(await mountSettings(mountpoint)) } }
}

/** The endpoint and cache dir of a running mount, from its control socket (if it answers). */
async function mountSettings(mountpoint: string): Promise<{ endpoint?: string; cacheDir?: string }> {
  try {
    const answer = await requestControl(socketPathFor(mountpoint), { cmd: 'status' }, undefined, 3000)
    const status = answer.status as Record<string, unknown> | undefined
    return {
      endpoint: typeof status?.endpoint === 'string' ? status.endpoint : undefined,
      cacheDir: typeof status?.cacheDir === 'string' ? status.cacheDir : undefined,
    }
  } catch {
    return {}
  }
}

export function joinAccountPath(folder: string, name: string): string {
  return folder === '/' ? `/${name}` : `${folder}/${name}`
}
