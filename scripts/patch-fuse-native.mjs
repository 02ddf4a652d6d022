#!/usr/bin/env node
// fuse-native 2.2.6 passes atime twice to the JS utimens handler (fuse-native.c builds the
// mtime argument from l->atime), so `rsync -a`, `cp -p` and `touch -d` could never set an
// mtime. Upstream is unmaintained (fuse-friends/fuse-native#36), so we fix the one line and
// rebuild the addon (about 2 s; fuse-shared-library ships the headers). node-gyp-build then
// loads build/Release/fuse.node in preference to the prebuild. Idempotent.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { spawnSync } from 'node:child_process'

const require = createRequire(import.meta.url)
let dir
try {
  dir = dirname(require.resolve('fuse-native/package.json'))
} catch {
  console.log('patch-fuse-native: fuse-native is not installed, nothing to patch')
  process.exit(0)
}
const source = join(dir, 'fuse-native.c')
const buggy = 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)'
const fixed = 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)'
const text = readFileSync(source, 'utf8')
const built = join(dir, 'build', 'Release', 'fuse.node')
if (text.includes(fixed) && existsSync(built)) {
  console.log('patch-fuse-native: already patched and built')
  process.exit(0)
}
if (text.includes(buggy)) writeFileSync(source, text.replace(buggy, fixed))
else if (!text.includes(fixed)) {
  console.error('patch-fuse-native: unexpected fuse-native.c; utimens mtimes will be wrong')
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
  console.error('patch-fuse-native: rebuild failed; the prebuilt addon (with the utimens bug) stays in use')
  process.exit(0)
}
console.log('patch-fuse-native: utimens fixed and addon rebuilt')
