/**
 * The Node flags the daemon runs with, in one place: bin/fichfs.js's shebang
 * (`#!/usr/bin/env -S node --flag ...`). Running the binary directly (a shell, systemd's
 * ExecStart, fstab through mount.fichfs) gets them from the kernel and env(1); every place that
 * starts the daemon with process.execPath instead (mount.fichfs's helper, `--daemon`, the tests'
 * and benchmarks' mounts) reads them from the same line with nodeFlagsOf(), so the daemon runs
 * the same way whichever way it was started. docs/SEMANTICS.md (Memory) says what each flag does.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** bin/fichfs.js of this checkout. */
export const FICHFS_BIN = fileURLToPath(new URL('../../bin/fichfs.js', import.meta.url))

/**
 * The Node flags of a shebang line: the words after `node` in `#!/usr/bin/env -S node --a --b=1`
 * (or `#!/usr/bin/node --a`). Only `-`-words count: the script's own arguments never ride there.
 * No flags (`#!/usr/bin/env node`, no shebang) is an empty list.
 */
export function parseShebangFlags(firstLine: string): string[] {
  if (!firstLine.startsWith('#!')) return []
  const words = firstLine.slice(2).trim().split(/\s+/).filter(Boolean)
  const at = words.findIndex((word) => /(^|\/)node(js)?$/.test(word))
  if (at < 0) return []
  const flags: string[] = []
  for (const word of words.slice(at + 1)) {
    if (!word.startsWith('-')) break
    flags.push(word)
  }
  return flags
}

/** The Node flags in a script's shebang (bin/fichfs.js by default); [] if it cannot be read. */
export function nodeFlagsOf(script: string = FICHFS_BIN): string[] {
  let head: string
  try {
    head = readFileSync(script, 'utf8').slice(0, 1000)
  } catch {
    return []
  }
  return parseShebangFlags(head.split('\n', 1)[0] ?? '')
}

/** `node <flags> bin/fichfs.js args...` as [file, args]: how to start fichfs from Node. */
export function fichfsCommand(args: string[], script: string = FICHFS_BIN): [string, string[]] {
  return [process.execPath, [...nodeFlagsOf(script), script, ...args]]
}
