#!/usr/bin/env node
// fuse-native 2.2.6 is unmaintained (fuse-friends/fuse-native#36), so fichfs carries its fixes
// here: each patch below replaces exact pieces of fuse-native's source, then the addon is
// rebuilt (about 2 s; fuse-shared-library ships the headers) and node-gyp-build loads
// build/Release/fuse.node in preference to the prebuild. Runs at `npm install`; idempotent.
//
// Patches come in groups: the C side and the JS side of one change must agree (a C addon that
// passes new arguments to an unpatched index.js would be worse than no patch), so a group is
// applied whole or not at all. A group whose text is not found (another fuse-native version)
// is reported and skipped. Every replacement carries a `fichfs-patch:<name>` marker, which is
// how a later run knows it is applied.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { spawnSync } from 'node:child_process'

/**
 * Each patch: the file in fuse-native, the exact text to find (or a list of accepted texts:
 * the upstream one and what an older version of this script made of it), what replaces it,
 * and `all` when every occurrence is replaced.
 */
const GROUPS = [
  {
    name: 'utimens-timespec',
    why: 'utimens got the atime twice (the mtime argument was built from l->atime), only in ' +
      'milliseconds, and libfuse dropped any time change that leaves one time alone (`touch -m`, ' +
      '`touch -a`) because flag_utime_omit_ok was not set. Now the handler gets both times as ' +
      '{sec, nsec}, where nsec may be UTIME_NOW or UTIME_OMIT',
    patches: [
      {
        name: 'utimens-locals',
        file: 'fuse-native.c',
        find: '  size_t atime;\n  size_t mtime;\n',
        replace: '  size_t atime;\n  size_t mtime;\n  struct timespec times[2]; // fichfs-patch:utimens-locals\n',
      },
      {
        name: 'utimens-method',
        file: 'fuse-native.c',
        find: [
          'FUSE_METHOD_VOID(utimens, 5, 0, (const char *path, const struct timespec tv[2]), {\n' +
          '  l->path = path;\n' +
          '  l->atime = timespec_to_uint64(&tv[0]);\n' +
          '  l->mtime = timespec_to_uint64(&tv[1]);\n' +
          '}, {\n' +
          '  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n' +
          '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n' +
          '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)\n' +
          '})',
          // What the first version of this script (patch "utimens-mtime") made of it.
          'FUSE_METHOD_VOID(utimens, 5, 0, (const char *path, const struct timespec tv[2]), {\n' +
          '  l->path = path;\n' +
          '  l->atime = timespec_to_uint64(&tv[0]);\n' +
          '  l->mtime = timespec_to_uint64(&tv[1]);\n' +
          '}, {\n' +
          '  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n' +
          '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n' +
          '  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)\n' +
          '})',
        ],
        replace:
          '// fichfs-patch:utimens-method: seconds (a double: exact, and negative before 1970) and\n' +
          '// nanoseconds of each time; tv_nsec may be UTIME_NOW or UTIME_OMIT.\n' +
          'FUSE_METHOD_VOID(utimens, 5, 0, (const char *path, const struct timespec tv[2]), {\n' +
          '  l->path = path;\n' +
          '  l->times[0] = tv[0];\n' +
          '  l->times[1] = tv[1];\n' +
          '}, {\n' +
          '  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n' +
          '  napi_create_double(env, (double) l->times[0].tv_sec, &(argv[3]));\n' +
          '  napi_create_uint32(env, (uint32_t) l->times[0].tv_nsec, &(argv[4]));\n' +
          '  napi_create_double(env, (double) l->times[1].tv_sec, &(argv[5]));\n' +
          '  napi_create_uint32(env, (uint32_t) l->times[1].tv_nsec, &(argv[6]));\n' +
          '})',
      },
      {
        name: 'utimens-omit-ok',
        file: 'fuse-native.c',
        find: '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n',
        replace: '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n' +
          '  ops.flag_utime_omit_ok = 1; // fichfs-patch:utimens-omit-ok\n',
      },
      {
        name: 'utimens-js',
        file: 'index.js',
        find: '  _op_utimens (signal, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh) {\n' +
          '    const atime = getDoubleArg(atimeLow, atimeHigh)\n' +
          '    const mtime = getDoubleArg(mtimeLow, mtimeHigh)\n',
        replace: '  _op_utimens (signal, path, atimeSec, atimeNsec, mtimeSec, mtimeNsec) {\n' +
          '    // fichfs-patch:utimens-js: each time as {sec, nsec}; nsec may be UTIME_NOW or UTIME_OMIT\n' +
          '    const atime = { sec: atimeSec, nsec: atimeNsec }\n' +
          '    const mtime = { sec: mtimeSec, nsec: mtimeNsec }\n',
      },
    ],
  },
  {
    name: 'null-paths',
    why: 'libfuse forgets the path of an open file whose folder was removed (`rm -rf` while a ' +
      'program still writes a file in it): without flag_nullpath_ok its reads, writes and close ' +
      'then fail with ENOENT; with it, libfuse passes a NULL path, which the binding must hand ' +
      'to JS as null instead of reading a NULL string',
    patches: [
      {
        name: 'null-paths-helper',
        file: 'fuse-native.c',
        find: '// Methods\n',
        replace: '// fichfs-patch:null-paths-helper: a NULL path (flag_nullpath_ok) reaches JS as null.\n' +
          'static void fuse_native_path_value (napi_env env, const char *path, napi_value *result) {\n' +
          '  if (path == NULL) napi_get_null(env, result);\n' +
          '  else napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, result);\n' +
          '}\n\n// Methods\n',
      },
      {
        name: 'null-paths-args',
        file: 'fuse-native.c',
        all: true,
        find: 'napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));',
        replace: 'fuse_native_path_value(env, l->path, &(argv[2])); // fichfs-patch:null-paths-args',
      },
      {
        name: 'null-paths-flag',
        file: 'fuse-native.c',
        find: '  if (implemented[op_init]) ops.init = fuse_native_init;\n',
        replace: '  if (implemented[op_init]) ops.init = fuse_native_init;\n' +
          '  ops.flag_nullpath_ok = 1; // fichfs-patch:null-paths-flag\n',
      },
    ],
  },
  {
    name: 'stat-subms',
    why: 'stat times reached the kernel in whole milliseconds (`cp -p` turned .040374835 into ' +
      '.040000000); now a time given as a number of milliseconds keeps its fraction to the ' +
      'microsecond (what a double holds exactly for a present-day date), in three extra fields ' +
      'the C side reads when they are there',
    patches: [
      {
        name: 'stat-subms-js',
        file: 'index.js',
        find: 'function getStatArray (stat) {\n' +
          '  const ints = new Uint32Array(18)\n',
        replace: '// fichfs-patch:stat-subms-js: fields 18..20 carry the sub-millisecond part of atime, mtime\n' +
          '// and ctime given as (fractional) numbers of milliseconds, to the microsecond, in ns.\n' +
          'function subMsNanos (time) {\n' +
          '  if (typeof time !== \'number\' || !Number.isFinite(time)) return 0\n' +
          '  return Math.min(999, Math.max(0, Math.round((time - Math.floor(time)) * 1000))) * 1000\n' +
          '}\n\n' +
          'function getStatArray (stat) {\n' +
          '  const ints = new Uint32Array(21)\n' +
          '  ints[18] = subMsNanos(stat && stat.atime)\n' +
          '  ints[19] = subMsNanos(stat && stat.mtime)\n' +
          '  ints[20] = subMsNanos(stat && stat.ctime)\n',
      },
      {
        name: 'stat-subms-c',
        file: 'fuse-native.c',
        find: 'static void populate_stat (uint32_t *ints, struct stat* stat) {\n',
        replace: '// fichfs-patch:stat-subms-c: `len` is the array\'s size in bytes; a 21-field array (the\n' +
          '// patched getStatArray) adds the sub-millisecond nanoseconds of each time.\n' +
          'static void populate_stat (uint32_t *ints, size_t len, struct stat* stat) {\n' +
          '  uint32_t *subms = len >= 21 * sizeof(uint32_t) ? ints + 18 : NULL;\n',
      },
      {
        name: 'stat-subms-c-end',
        file: 'fuse-native.c',
        find: '  uint32s_to_timespec(&stat->st_ctim, &ints);\n#endif\n}\n',
        replace: '  uint32s_to_timespec(&stat->st_ctim, &ints);\n#endif\n' +
          '  if (subms != NULL) { // fichfs-patch:stat-subms-c-end\n' +
          '#ifdef __APPLE__\n' +
          '    stat->st_atimespec.tv_nsec += subms[0];\n' +
          '    stat->st_mtimespec.tv_nsec += subms[1];\n' +
          '    stat->st_ctimespec.tv_nsec += subms[2];\n' +
          '#else\n' +
          '    stat->st_atim.tv_nsec += subms[0];\n' +
          '    stat->st_mtim.tv_nsec += subms[1];\n' +
          '    stat->st_ctim.tv_nsec += subms[2];\n' +
          '#endif\n' +
          '  }\n' +
          '}\n',
      },
      {
        name: 'stat-subms-calls',
        file: 'fuse-native.c',
        all: true,
        find: 'populate_stat(ints, l->stat);',
        replace: 'populate_stat(ints, ints_len, l->stat); // fichfs-patch:stat-subms-calls',
      },
      {
        name: 'stat-subms-readdir',
        file: 'fuse-native.c',
        find: 'populate_stat(stats_array, &st);',
        replace: 'populate_stat(stats_array, stats_array_len, &st); // fichfs-patch:stat-subms-readdir',
      },
    ],
  },
  {
    name: 'unmount-without-shell',
    why: 'Fuse.unmount (stale-mount clearing at mount, and every unmount) ran `fusermount -uz "<path>"` ' +
      'through a shell: a mountpoint holding $(...) or backticks ran that command, and one holding $HOME or ' +
      'a newline could not be unmounted. It now passes the path as one argv entry, after `--`; exec (a ' +
      'shell) is no longer used anywhere in fuse-native (src/fs/fuse-adapter.ts refuses to mount without this)',
    patches: [
      {
        name: 'unmount-argv',
        file: 'index.js',
        find: [
          "  static unmount (mnt, cb) {\n    mnt = JSON.stringify(mnt)\n    const cmd = IS_OSX ? `diskutil unmount force ${mnt}` : `fusermount -uz ${mnt}`\n    exec(cmd, err => {",
          // What an earlier version of this script made of it (no marker).
          "  static unmount (mnt, cb) {\n    // fichfs: an argv, never a shell (scripts/patch-fuse-native.mjs)\n" +
          "    const [file, args] = IS_OSX ? ['diskutil', ['unmount', 'force', mnt]] : ['fusermount', ['-uz', '--', mnt]]\n" +
          "    execFile(file, args, err => {",
        ],
        replace: "  static unmount (mnt, cb) {\n    // fichfs: an argv, never a shell (scripts/patch-fuse-native.mjs) fichfs-patch:unmount-argv\n" +
          "    const [file, args] = IS_OSX ? ['diskutil', ['unmount', 'force', mnt]] : ['fusermount', ['-uz', '--', mnt]]\n" +
          "    execFile(file, args, err => {",
      },
      {
        name: 'unmount-import',
        file: 'index.js',
        find: ["const { exec } = require('child_process')", "const { execFile } = require('child_process')"],
        replace: "const { execFile } = require('child_process') // fichfs-patch:unmount-import",
      },
    ],
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

const texts = new Map()
const textOf = (file) => {
  if (!texts.has(file)) texts.set(file, readFileSync(join(dir, file), 'utf8'))
  return texts.get(file)
}
const finds = (patch) => (Array.isArray(patch.find) ? patch.find : [patch.find])
const applied = (patch, text) => text.includes(`fichfs-patch:${patch.name}`) && !(patch.all && text.includes(patch.find))

const changedFiles = new Set()
let complete = true
for (const group of GROUPS) {
  const todo = group.patches.filter((patch) => !applied(patch, textOf(patch.file)))
  if (todo.length === 0) continue
  const missing = todo.filter((patch) => !finds(patch).some((text) => textOf(patch.file).includes(text)))
  if (missing.length > 0) {
    console.error(`patch-fuse-native: ${group.name}: unexpected ${missing.map((patch) => `${patch.file} (${patch.name})`).join(', ')}; ` +
      `group not patched (${group.why})`)
    complete = false
    continue
  }
  for (const patch of todo) {
    const text = textOf(patch.file)
    const found = finds(patch).find((candidate) => text.includes(candidate))
    texts.set(patch.file, patch.all ? text.split(found).join(patch.replace) : text.replace(found, patch.replace))
    changedFiles.add(patch.file)
  }
  console.log(`patch-fuse-native: ${group.name}: patched (${group.why})`)
}
// The addon is rebuilt from the C files; the JS files are written only once the addon that
// matches them is built, so a failed build never leaves new JS over the old prebuilt addon.
const isC = (file) => file.endsWith('.c')
const writeFiles = (which) => {
  for (const file of changedFiles) if (which(file)) writeFileSync(join(dir, file), texts.get(file))
}
writeFiles(isC)

const built = join(dir, 'build', 'Release', 'fuse.node')
if (![...changedFiles].some(isC) && existsSync(built)) {
  writeFiles((file) => !isC(file))
  console.log(changedFiles.size === 0 ? 'patch-fuse-native: already patched and built' : 'patch-fuse-native: patched (no rebuild needed)')
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
writeFiles((file) => !isC(file))
console.log(`patch-fuse-native: addon rebuilt${complete ? '' : ' (some patches did not apply, see above)'}`)
