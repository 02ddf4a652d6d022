/**
 * The POSIX edges a conformance run (pjdfstest groups) and fsx found, each checked on a real
 * mount against what ext4 answers: utimensat with one time omitted, over-long names on lookup,
 * a file unlinked (or replaced) while open, `rm -rf` of a folder with an open file, folder link
 * counts and `.`/`..`, time precision, and the block-cache counters of `fichfs status`.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestControl, socketPathFor } from '../../src/cli/control.js'
import { formatStatus } from '../../src/cli/commands/status.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods, expectNoHiddenNames } from '../support/checks.js'
import { mountFichfs, removeDir, run, sh, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'
import { writeRandomFile, writeTree } from '../support/tree.js'

/** The kernel sends RELEASE after close() has returned: what follows the last close comes soon after. */
async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now()
  while (!check() && Date.now() - started < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 50))
}

describe('POSIX edges', () => {
  let emu: Emulator
  let seed: string
  let cacheDir: string
  let mount: TestMount
  let mnt: string
  const calls = (path: string) => emu.stats().calls[path] ?? 0
  const stored = (path: string) => emu.tree().filter((entry) => entry.path === path)
  const status = async () => (await requestControl(socketPathFor(mnt), { cmd: 'status' })).status as Record<string, unknown>
  const remount = async () => {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--disk-cache', '0'] })
  }

  beforeAll(async () => {
    seed = await tempDir('edges-seed')
    await writeTree(seed, { files: { 'seeded/inner/x.txt': 'x\n' } })
    await writeRandomFile(join(seed, 'big.bin'), 3 << 20)
    emu = await startEmulator({ dataDir: await tempDir('edges-emu'), seedDir: seed, timeScale: 10 })
    cacheDir = await tempDir('edges-cache')
    mount = await mountFichfs(emu, { cacheDir, args: ['--disk-cache', '0'] })
    mnt = mount.mountpoint
  })

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    expectNoHiddenNames(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mnt]) await removeDir(dir)
  })

  it('touch -m sets only the mtime, touch -a leaves it, touch sets it to now', async () => {
    const f = `${mnt}/times.txt`
    await run(`echo x > ${f} && touch -d @1900000000 ${f} && touch -m -d @1950000000 ${f}`)
    expect(await run(`stat -c %Y ${f}`)).toBe('1950000000\n')
    await run(`touch -a -d @1800000000 ${f}`)
    expect(await run(`stat -c %Y ${f}`)).toBe('1950000000\n')
    await waitForUploads(mount)
    // ...also on an uploaded file, and after a remount.
    await run(`touch -m -d @1960000000 ${f} && touch -a -d @1700000000 ${f}`)
    await remount()
    expect(await run(`stat -c %Y ${f}`)).toBe('1960000000\n')
    const before = Math.floor(Date.now() / 1000)
    await run(`touch -m ${f}`)
    expect(Number(await run(`stat -c %Y ${f}`))).toBeGreaterThanOrEqual(before)
  })

  it('mtimes keep their microseconds (cp -p, touch -d), also after a remount', async () => {
    const local = join(seed, 'precise.txt')
    await writeFile(local, 'precise\n')
    await run(`touch -d '2031-02-03 04:05:06.040374835' ${local}`)
    await run(`cp -p ${local} ${mnt}/precise.txt && touch -d '2032-01-01 00:00:00.123456789' ${mnt}/touched.txt`)
    // The binding hands fichfs a JavaScript number of milliseconds: the nanoseconds below the
    // microsecond are dropped (docs/SEMANTICS.md).
    expect(await run(`stat -c %y ${mnt}/precise.txt ${mnt}/touched.txt`))
      .toBe('2031-02-03 04:05:06.040374000 +0000\n2032-01-01 00:00:00.123456000 +0000\n')
    await waitForUploads(mount)
    await remount()
    expect(await run(`stat -c %y ${mnt}/precise.txt`)).toBe('2031-02-03 04:05:06.040374000 +0000\n')
  })

  it('a name over 255 bytes is ENAMETOOLONG for every operation, with no API call', async () => {
    await run(`mkdir ${mnt}/long && echo x > ${mnt}/long/short && ls ${mnt}/long > /dev/null`)
    await waitForUploads(mount)
    const before = emu.stats().apiCalls
    const script = [
      'import errno, os, sys',
      'd, n = sys.argv[1], "x" * 256',
      'ops = {',
      '  "stat": lambda: os.stat(f"{d}/{n}"),',
      '  "stat-through": lambda: os.stat(f"{d}/{n}/inner"),',
      '  "open": lambda: open(f"{d}/{n}"),',
      '  "create": lambda: open(f"{d}/{n}", "w"),',
      '  "unlink": lambda: os.unlink(f"{d}/{n}"),',
      '  "rmdir": lambda: os.rmdir(f"{d}/{n}"),',
      '  "mkdir": lambda: os.mkdir(f"{d}/{n}"),',
      '  "rename-from": lambda: os.rename(f"{d}/{n}", f"{d}/other"),',
      '  "rename-to": lambda: os.rename(f"{d}/short", f"{d}/{n}"),',
      '  "truncate": lambda: os.truncate(f"{d}/{n}", 0),',
      '  "chmod": lambda: os.chmod(f"{d}/{n}", 0o600),',
      '}',
      'for name, op in ops.items():',
      '  try:',
      '    op(); print(name, "OK")',
      '  except OSError as e:',
      '    print(name, errno.errorcode[e.errno])',
    ].join('\n')
    const answers = await run(`python3 -c '${script}' ${mnt}/long`)
    expect(answers.trim().split('\n')).toEqual([
      'stat', 'stat-through', 'open', 'create', 'unlink', 'rmdir', 'mkdir', 'rename-from', 'rename-to', 'truncate', 'chmod',
    ].map((op) => `${op} ENAMETOOLONG`))
    expect(emu.stats().apiCalls).toBe(before)
  })

  it('an uploaded file unlinked while open: gone at once, its descriptor reads and writes, nothing comes back', async () => {
    await run(`mkdir ${mnt}/d && echo hello > ${mnt}/d/f`)
    await waitForUploads(mount)
    const renames = calls('file/rename.cgi') + calls('file/mv.cgi')
    const uploads = emu.stats().upload.files
    // The conformance run's repro: ext4 shows an empty folder, "X\nllo" through the descriptor,
    // and no f afterwards.
    const out = await run([
      `exec 3<>${mnt}/d/f`, `rm ${mnt}/d/f`, `echo "listed:[$(ls -A ${mnt}/d)]"`,
      'echo X >&3', `echo "fd:[$(cat /proc/self/fd/3)]"`, `stat -L -c 'links:%h size:%s' /proc/self/fd/3`,
      'exec 3>&-', `echo "after:[$(ls -A ${mnt}/d)]"`, `cat ${mnt}/d/f 2>&1 || true`,
    ].join('; '))
    expect(out).toBe(`listed:[]\nfd:[X\nllo]\nlinks:0 size:6\nafter:[]\ncat: ${mnt}/d/f: No such file or directory\n`)
    await eventually(() => stored('/d/f').length === 0)
    expect(stored('/d/f')).toEqual([])
    expect(calls('file/rename.cgi') + calls('file/mv.cgi')).toBe(renames)
    expect(emu.stats().upload.files).toBe(uploads)
    await remount()
    expect(await run(`ls -A ${mnt}/d`)).toBe('')
  })

  it('reading an unlinked file through its descriptor (cat does fstat first) works until the last close', async () => {
    await run(`cp ${seed}/big.bin ${mnt}/d/read-me.bin`)
    await waitForUploads(mount)
    const deletes = calls('file/rm.cgi')
    const renames = calls('file/rename.cgi') + calls('file/mv.cgi')
    const copy = join(seed, 'read-back.bin')
    await run(`exec 3<${mnt}/d/read-me.bin; rm ${mnt}/d/read-me.bin; sleep 0.2; cat <&3 > ${copy}; exec 3<&-`)
    await run(`cmp ${seed}/big.bin ${copy}`)
    // The deletion from 1fichier waited for the close.
    await eventually(() => calls('file/rm.cgi') > deletes)
    expect(calls('file/rm.cgi')).toBe(deletes + 1)
    expect(calls('file/rename.cgi') + calls('file/mv.cgi')).toBe(renames)
    expect(stored('/d/read-me.bin')).toEqual([])
  })

  it('a file not uploaded yet, unlinked while open for writing, is never uploaded', async () => {
    const uploads = emu.stats().upload.files
    await run(`exec 4>${mnt}/d/draft.txt; echo one >&4; rm ${mnt}/d/draft.txt; echo two >&4; exec 4>&-`)
    await waitForUploads(mount)
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(emu.stats().upload.files).toBe(uploads)
    expect(await run(`ls -A ${mnt}/d`)).toBe('')
  })

  it('a file replaced by a rename while open keeps its old content for the open descriptor', async () => {
    await run(`echo old-content > ${mnt}/d/a && echo new-content > ${mnt}/d/b`)
    await waitForUploads(mount)
    const out = await run(`exec 3<${mnt}/d/a; mv ${mnt}/d/b ${mnt}/d/a; cat ${mnt}/d/a; cat <&3; exec 3<&-; ls -A ${mnt}/d`)
    expect(out).toBe('new-content\nold-content\na\n')
    await eventually(() => stored('/d/a').length === 1)
    expect(stored('/d/a')).toHaveLength(1)
    expect(stored('/d/a')[0]?.size).toBe('new-content\n'.length)
    expect(stored('/d/b')).toEqual([])
  })

  it('an uploaded file unlinked while open when the daemon dies is deleted at the next mount', async () => {
    await run(`echo doomed > ${mnt}/d/doomed.txt`)
    await waitForUploads(mount)
    // The reader holds the file open while the daemon is killed.
    const holder = sh(`exec 3<${mnt}/d/doomed.txt; rm ${mnt}/d/doomed.txt; sleep 3; exec 3<&-`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(stored('/d/doomed.txt')).toHaveLength(1)
    await mount.kill9()
    await holder
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mnt, args: ['--disk-cache', '0'] })
    // (`a` is the previous test's.)
    expect(await run(`ls -A ${mnt}/d`)).toBe('a\n')
    await eventually(() => stored('/d/doomed.txt').length === 0)
    expect(stored('/d/doomed.txt')).toEqual([])
  })

  it('rm -rf of a folder with a file open for writing succeeds; later writes and close too; nothing reaches 1fichier', async () => {
    const uploads = emu.stats().upload.files
    const out = await run(`mkdir ${mnt}/r; exec 5>${mnt}/r/log.txt; echo first >&5; rm -rf ${mnt}/r && echo removed; ` +
      `echo more >&5 && echo written; exec 5>&- && echo closed; ls ${mnt}/r 2>&1 || true`)
    expect(out).toBe(`removed\nwritten\nclosed\nls: cannot access '${mnt}/r': No such file or directory\n`)
    await waitForUploads(mount)
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(emu.stats().upload.files).toBe(uploads)
    expect(emu.tree().some((entry) => entry.path.startsWith('/r'))).toBe(false)
  })

  it('a folder has 2 + its sub-folders links (1 while never listed); readdir lists . and ..', async () => {
    await run(`mkdir -p ${mnt}/n/a ${mnt}/n/b`)
    expect(await run(`stat -c %h ${mnt}/n`)).toBe('4\n')
    await run(`rmdir ${mnt}/n/b`)
    expect(await run(`stat -c %h ${mnt}/n ${mnt}/n/a`)).toBe('3\n2\n')
    // A folder never listed: its sub-folders are unknown, so no count is claimed.
    expect(await run(`stat -c %h ${mnt}/seeded`)).toBe('1\n')
    // (past the kernel's 1 s attribute cache)
    await run(`ls ${mnt}/seeded > /dev/null && sleep 1.2`)
    expect(await run(`stat -c %h ${mnt}/seeded`)).toBe('3\n')
    // ls -f: readdir's own order, nothing added or sorted.
    expect((await run(`ls -f ${mnt}/n`)).split('\n').slice(0, 2)).toEqual(['.', '..'])
    expect(await run(`find ${mnt}/seeded -type f`)).toBe(`${mnt}/seeded/inner/x.txt\n`)
  })

  it('fichfs status counts memory hits, read-ahead and downloads of file blocks', async () => {
    await remount()
    const counts = async () => (await status()).cache as { hits: number; readAheadHits: number; diskHits: number; misses: number }
    const start = await counts()
    // O_DIRECT: every read reaches the daemon (no page cache), so the counts are the reads'.
    await run(`dd if=${mnt}/big.bin of=/dev/null bs=1M iflag=direct status=none`)
    const cold = await counts()
    expect(cold.hits - start.hits).toBe(0)
    expect(cold.readAheadHits + cold.misses - start.readAheadHits - start.misses).toBe(3)
    await run(`dd if=${mnt}/big.bin of=/dev/null bs=1M iflag=direct status=none`)
    const warm = await counts()
    expect(warm.hits - cold.hits).toBe(3)
    expect(warm.misses + warm.readAheadHits).toBe(cold.misses + cold.readAheadHits)
    const line = formatStatus(await status()).split('\n').find((text) => text.includes('Caches')) ?? ''
    expect(line).toMatch(/file blocks \d+% hits \(\d+ of \d+ read: \d+ from memory, 0 from disk; \d+ downloaded, \d+ of them read ahead\)/)
  })
})
