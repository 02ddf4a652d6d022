#!/usr/bin/env node
// fuse-native 2.2.6 is unmaintained (fuse-friends/fuse-native#36), so fichfs carries its fixes
// here: each patch below replaces one exact piece of fuse-native's source (C or JS), then the
// addon is rebuilt (about 2 s; fuse-shared-library ships the headers) and node-gyp-build loads
// build/Release/fuse.node in preference to the prebuild. Runs at `npm install`; idempotent.
// A patch whose text is not found (another fuse-native version) is reported and skipped; the
// shell-free unmount is also checked at run time (src/fs/fuse-adapter.ts refuses to mount
// without it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { spawnSync } from 'node:child_process'

/** Each patch: the file in fuse-native, the exact text to find, what replaces it, and why. */
const PATCHES = [
  {
    name: 'utimens-mtime',
    file: 'fuse-native.c',
    why: 'the JS utimens handler got atime twice (the mtime argument was built from l->atime), ' +
      'so `rsync -a`, `cp -p` and `touch -d` could never set an mtime',
    find: 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)',
    replace: 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)',
  },
  {
    name: 'unmount-without-shell',
    file: 'index.js',
    why: 'Fuse.unmount (stale-mount clearing at mount, and every unmount) ran `fusermount -uz "<path>"` ' +
      'through a shell: a mountpoint holding $(...) or backticks ran that command, and one holding $HOME or ' +
      'a newline could not be unmounted. It now passes the path as one argv entry, after `--`',
    find: "  static unmount (mnt, cb) {\n    mnt = JSON.stringify(mnt)\n    const cmd = IS_OSX ? `diskutil unmount force ${mnt}` : `fusermount -uz ${mnt}`\n    exec(cmd, err => {",
    replace: "  static unmount (mnt, cb) {\n    // fichfs: an argv, never a shell (scripts/patch-fuse-native.mjs)\n" +
      "    const [file, args] = IS_OSX ? ['diskutil', ['unmount', 'force', mnt]] : ['fusermount', ['-uz', '--', mnt]]\n" +
      "    execFile(file, args, err => {",
  },
  {
    name: 'unmount-without-shell-import',
    file: 'index.js',
    why: 'the unmount above needs execFile; exec (a shell) is no longer used anywhere in fuse-native',
    find: "const { exec } = require('child_process')",
    replace: "const { execFile } = require('child_process')",
  },
]

const require = createRequire(import.meta.url)
let dir
try {
  dir = dirname(require.resolve('fuse-native/package.json'))
} catch {
  console.log('patch-fuse-native: fuse-native is not installed, nothing to patch')
  process.exit(0)
}

let changed = false
let complete = true
for (const patch of PATCHES) {
  const path = join(dir, patch.file)
  const text = readFileSync(path, 'utf8')
  if (text.includes(patch.replace)) continue
  if (!text.includes(patch.find)) {
    console.error(`patch-fuse-native: ${patch.name}: unexpected ${patch.file}, not patched (${patch.why})`)
    complete = false
    continue
  }
  writeFileSync(path, text.replace(patch.find, patch.replace))
  console.log(`patch-fuse-native: ${patch.name}: patched (${patch.why})`)
  changed = true
}

const built = join(dir, 'build', 'Release', 'fuse.node')
if (!changed && existsSync(built)) {
  console.log('patch-fuse-native: already patched and built')
  process.exit(0)
}
// npm sets npm_config_node_gyp inside lifecycle scripts; fall back to npm's bundled copy.
const gyp = process.env.npm_config_node_gyp ||
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
// Build against the headers that ship with this Node (no download: CI machines are offline).
const nodedir = process.env.npm_config_nodedir ||
  (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined)
const args = [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])]
const result = spawnSync(process.execPath, args, { cwd: dir, stdio: 'inherit' })
if (result.status !== 0) {
  console.error('patch-fuse-native: rebuild failed; the prebuilt addon (without these fixes) stays in use')
  process.exit(0)
}
console.log(`patch-fuse-native: addon rebuilt${complete ? '' : ' (some patches did not apply, see above)'}`)
