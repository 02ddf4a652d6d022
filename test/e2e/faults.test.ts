/**
 * The fault suite: what a user meets, each checked by reading everything back through a fresh
 * cache dir (sha256 against the source) and by counting the copies of every name on the
 * emulator (no duplicate, no leftover).
 *   - kill -9 at three moments of an rsync of 300 small files and one 100 MB file: during the
 *     small writes, during their batch upload, during the big upload; then a remount with the
 *     same cache dir, and the same rsync again (with --delete, as a mirror is made);
 *   - two mounts of one account on two machines (two cache dirs, gates they cannot share)
 *     writing the same names;
 *   - 8 writers, 4 readers of a 200 MB file and an `ls -lR` loop for two minutes
 *     (FICHFS_STRESS_SECONDS), with the daemon's peak RSS reported.
 * The outage scenarios (the emulator stopped while uploads are pending, or down at mount) are
 * in outages.test.ts. Time-scaled x10; 0 floods everywhere.
 */
import { readFileSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { whirlpool } from 'hash-wasm'
import { describe, expect, it } from 'vitest'
import { requestControl, socketPathFor } from '../../src/cli/control.js'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods, expectStoredExactly, storedPath } from '../support/checks.js'
import { mountFichfs, run, sh, tempDirsForFile, waitForUploads, type TestMount } from '../support/mount.js'
import { writeRandomFile, writeTree, type TreeSpec } from '../support/tree.js'

const dir = tempDirsForFile()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** 300 small files in three folders, then one 100 MB file (rsync sends them in that order). */
function rsyncSpec(): TreeSpec {
  const files: TreeSpec['files'] = {}
  for (let folder = 1; folder <= 3; folder++) {
    for (let i = 1; i <= 100; i++) files[`small-${folder}/f-${String(i).padStart(3, '0')}.dat`] = 1 + ((folder * 7919 + i * 104_729) % 20_000)
  }
  files['zz-big/100mb.bin'] = 100_000_000
  return { files }
}

/** Every file of a tree with its sha256, as `sha256sum` prints them (run outside this process). */
async function sha256Tree(root: string): Promise<string> {
  return run(`cd ${root} && find . -type f | LC_ALL=C sort | xargs -d '\\n' sha256sum`, { timeoutMs: 300_000 })
}

/** Lines of the daemon's log that are JSON, parsed. */
function logRecords(mount: TestMount): Array<Record<string, unknown>> {
  return mount.output().split('\n').filter((line) => line.startsWith('{')).map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      return {}
    }
  })
}

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const started = Date.now()
  while (!(await test())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

async function pending(mount: TestMount): Promise<number> {
  const answer = await requestControl(socketPathFor(mount.mountpoint), { cmd: 'status' })
  return (answer.status as { uploads: { pending: number } }).uploads.pending
}

/** rsync's temporary names (.name.XXXXXX). */
const TEMPORARY = /\/\.[^/]+\.[A-Za-z0-9]{6}$/

/**
 * After a crash and a remount, before any rerun: whatever the emulator holds under a real name
 * is whole (its Whirlpool is the source's) and there once. Files rsync was still writing may
 * be there under their temporary names, as on a local disk after a crash.
 */
async function expectNothingCorrupt(emu: Emulator, source: string, folder: string, spec: TreeSpec): Promise<number> {
  const prefix = storedPath('', folder)
  const stored = emu.tree().filter((entry) => entry.type === 'file' && entry.path.startsWith(`${prefix}/`) && !TEMPORARY.test(entry.path))
  const problems: string[] = []
  const seen = new Set<string>()
  for (const entry of stored) {
    if (seen.has(entry.path)) problems.push(`second copy of ${entry.path}`)
    seen.add(entry.path)
    const relative = entry.path.slice(prefix.length + 1)
    if (!(relative in spec.files)) {
      problems.push(`unexpected ${entry.path}`)
      continue
    }
    if (entry.whirlpool !== (await whirlpool(await readFile(join(source, relative))))) problems.push(`content of ${entry.path}`)
  }
  expect(problems).toEqual([])
  return stored.length
}

const MOUNT_SCALE = 6

describe('kill -9 during an rsync of 300 small files and one 100 MB file', () => {
  const moments = [
    {
      name: 'during the small writes',
      args: ['--write-back', '2s'],
      bandwidth: 0,
      // Closed and journaled, not yet sent: rsync is still writing into the same folder.
      crashWhen: async (mount: TestMount) => (await pending(mount)) >= 120,
      rsyncDies: true,
    },
    {
      name: 'during the batch upload',
      args: ['--write-back', '100ms'],
      bandwidth: 300_000,
      crashWhen: async (mount: TestMount) => logRecords(mount).some((record) => record.msg === 'uploading' && Number(record.files) >= 50),
      afterMs: 300,
      rsyncDies: true,
    },
    {
      name: 'during the big upload',
      args: ['--write-back', '100ms'],
      bandwidth: 20_000_000,
      // rsync has finished by then (its last file closed): the crash hits the upload alone.
      crashWhen: async (mount: TestMount) => logRecords(mount).some((record) => record.msg === 'uploading' && Number(record.bytes) >= 100_000_000),
      afterMs: 1500,
      rsyncDies: false,
    },
  ]

  it.each(moments.map((moment, index) => [moment.name, index] as const))('%s: the remount sends what was journaled, once; the rerun completes the mirror', async (_name, index) => {
    const moment = moments[index] as (typeof moments)[number]
    const spec = rsyncSpec()
    const source = await dir('kill-src')
    await writeTree(source, spec)
    // The emulator at x10, the mounts at x6: they pace calls wider than its rules demand.
    // Reading 301 files back costs 301 get_token calls in a row at the pacer's full rate while
    // this process (the emulator) serves the downloads, and a request it gets to late squeezes
    // the gaps it measures: at equal scales (x5) that met a flood about once in three runs.
    const emu = await startEmulator({ dataDir: await dir('kill-emu'), timeScale: 10, faults: { bandwidthBytesPerSec: moment.bandwidth } })
    try {
      const cacheDir = await dir('kill-cache')
      let mount = await mountFichfs(emu, { cacheDir, args: moment.args, timeScale: MOUNT_SCALE })
      const rsync = sh(`rsync -a ${source}/ ${mount.mountpoint}/backup/`, { timeoutMs: 300_000 })
      await until(moment.name, () => moment.crashWhen(mount), 120_000)
      if (moment.afterMs) await sleep(moment.afterMs)
      await mount.kill9()
      expect((await rsync).code !== 0).toBe(moment.rsyncDies)

      // Remount with the same cache dir: the journal resumes.
      emu.setFaults({ bandwidthBytesPerSec: 0 })
      const crashed = mount.output()
      mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, args: ['--write-back', '100ms'], timeScale: MOUNT_SCALE })
      await waitForUploads(mount, 180_000)
      const arrived = await expectNothingCorrupt(emu, source, 'backup', spec)
      expect(arrived, `${crashed.slice(-3000)}\n---- remount\n${mount.output().slice(-3000)}`).toBeGreaterThan(0)

      // The user runs the same rsync again (a mirror: --delete drops the crashed run's
      // temporary files): the account then holds exactly the source.
      await run(`rsync -a --delete ${source}/ ${mount.mountpoint}/backup/`, { timeoutMs: 300_000 })
      await waitForUploads(mount, 180_000)
      expect(await expectStoredExactly(emu, source, 'backup')).toBe(301)
      expect(await mount.stop()).toBe(0)

      // Read back through a fresh cache dir: the bytes are the source's.
      const fresh = await mountFichfs(emu, { cacheDir: await dir('kill-fresh'), timeScale: MOUNT_SCALE })
      expect(await sha256Tree(join(fresh.mountpoint, 'backup'))).toBe(await sha256Tree(source))
      expect(await fresh.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  }, 300_000)
})

describe('two mounts of one account on two machines', () => {
  it('the same names written from both: both versions are kept, nothing is lost silently', async () => {
    const emu = await startEmulator({ dataDir: await dir('machines-emu'), timeScale: 10 })
    try {
      // Two machines: their own cache dirs and runtime dirs (no gate, socket or lock shared).
      const [runA, runB] = [await dir('machine-a-run'), await dir('machine-b-run')]
      const machine = async (runtime: string, label: string) =>
        mountFichfs(emu, { cacheDir: await dir(label), args: ['--write-back', '100ms'], env: { FICHFS_RUNTIME_DIR: runtime } })
      const a = await machine(runA, 'machine-a-cache')
      await run(`echo original > ${a.mountpoint}/doc.txt`)
      await waitForUploads(a)
      // Machines do not start in the same second: B's first listing of the root comes after
      // 1fichier's 30 s (3 s here) per folder. (Two at once meet one flood, then back off.)
      await sleep(3500)
      const b = await machine(runB, 'machine-b-cache')
      expect(await run(`cat ${b.mountpoint}/doc.txt`)).toBe('original\n')

      // Both overwrite doc.txt and create new.txt, neither seeing the other's change (each
      // within its listing's freshness). One after the other: two machines calling in the same
      // instant would meet one flood (their gates are not shared), which is not what this checks.
      await run(`echo 'from A' > ${a.mountpoint}/doc.txt && echo 'new from A' > ${a.mountpoint}/new.txt`)
      await waitForUploads(a)
      await run(`echo 'from B' > ${b.mountpoint}/doc.txt && echo 'new from B' > ${b.mountpoint}/new.txt`)
      await waitForUploads(b)
      // Each machine shows its own version: under the name while its listing is the one it had,
      // else (B lists the root again to find the trash folder A made, and so sees A's upload) as
      // `name (<id>).ext` beside the older version, which keeps the name.
      const shown = async (mnt: string, stem: string) => {
        const names = (await readdir(mnt)).filter((name) => name === `${stem}.txt` || name.startsWith(`${stem} (`))
        return Promise.all(names.map((name) => readFile(join(mnt, name), 'utf8')))
      }
      expect(await shown(a.mountpoint, 'doc')).toContain('from A\n')
      expect(await shown(a.mountpoint, 'new')).toContain('new from A\n')
      expect(await shown(b.mountpoint, 'doc')).toContain('from B\n')
      expect(await shown(b.mountpoint, 'new')).toContain('new from B\n')

      // The service keeps both versions of each name (the one both replaced is gone).
      const stored = emu.tree().filter((entry) => entry.type === 'file')
      const versions = async (...texts: string[]) => (await Promise.all(texts.map((text) => whirlpool(text)))).sort()
      expect(stored.filter((entry) => entry.path === '/doc.txt').map((entry) => entry.whirlpool).sort()).toEqual(await versions('from A\n', 'from B\n'))
      expect(stored.filter((entry) => entry.path === '/new.txt').map((entry) => entry.whirlpool).sort()).toEqual(await versions('new from A\n', 'new from B\n'))

      // A fresh look (machine B again, with a new cache dir) sees both: the older version keeps
      // the name, the newer one has its id.
      await Promise.all([a.stop(), b.stop()])
      const c = await machine(runB, 'machine-b-cache2')
      const names = (await run(`ls ${c.mountpoint}`)).trim().split('\n').sort()
      expect(names.filter((name) => name.startsWith('doc'))).toHaveLength(2)
      expect(names.filter((name) => name.startsWith('new'))).toHaveLength(2)
      const docs = (await Promise.all(names.filter((name) => name.startsWith('doc')).map((name) => readFile(join(c.mountpoint, name), 'utf8')))).sort()
      expect(docs).toEqual(['from A\n', 'from B\n'])
      const news = (await Promise.all(names.filter((name) => name.startsWith('new')).map((name) => readFile(join(c.mountpoint, name), 'utf8')))).sort()
      expect(news).toEqual(['new from A\n', 'new from B\n'])
      expect(names).toContain('doc.txt')
      expect(names.some((name) => /^doc \(\w+\)\.txt$/.test(name))).toBe(true)
      expect(await c.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  })
})

describe('8 writers, 4 readers of a 200 MB file and an ls -lR loop', () => {
  const seconds = Number(process.env.FICHFS_STRESS_SECONDS ?? 120)

  it(`for ${seconds} s: every write lands once and whole, every read is right, the daemon stays small`, async () => {
    const seed = await dir('stress-seed')
    const tree: TreeSpec = { files: { 'big/200mb.bin': 200_000_000 } }
    for (let i = 0; i < 20; i++) tree.files[`tree/d-${i % 5}/e-${i}/file-${i}.txt`] = `file ${i}\n`
    await writeTree(seed, tree)
    const bigSum = (await run(`sha256sum < ${seed}/big/200mb.bin`)).split(' ')[0]
    const pool = await dir('stress-pool')
    const sizes = [65_536, 300_000, 1_000_000, 150_000]
    for (const [index, size] of sizes.entries()) await writeRandomFile(join(pool, `p${index}.bin`), size)
    const poolSums = await Promise.all(sizes.map(async (_size, index) => whirlpool(await readFile(join(pool, `p${index}.bin`)))))

    const emu = await startEmulator({ dataDir: await dir('stress-emu'), timeScale: 10, seedDir: seed })
    try {
      const mount = await mountFichfs(emu, { cacheDir: await dir('stress-cache') })
      const mnt = mount.mountpoint
      for (let w = 0; w < 8; w++) await mkdir(join(mnt, `w${w}`))
      const loop = (body: string) => sh(`end=$((SECONDS+${seconds})); n=0; while [ $SECONDS -lt $end ]; do ${body} || { echo "failed at $n" >&2; exit 1; }; n=$((n+1)); done; echo $n`, { timeoutMs: (seconds + 240) * 1000 })
      const writers = Array.from({ length: 8 }, (_, w) => loop(`cp ${pool}/p$((n % ${sizes.length})).bin ${mnt}/w${w}/f-$n.bin && sleep 0.5`))
      // Readers pause 1 s between rounds: this run is to load the daemon, not to starve the
      // other test files sharing the machine's two cores.
      const readers = Array.from({ length: 4 }, () => loop(`sha256sum < ${mnt}/big/200mb.bin >> ${pool}/sums-$$ && sleep 1`))
      const lister = loop(`ls -lR ${mnt} > /dev/null`)
      const results = await Promise.all([...writers, ...readers, lister])
      for (const result of results) expect(result.code, result.stderr).toBe(0)
      const [written, reads, listings] = [
        results.slice(0, 8).map((result) => Number(result.stdout.trim())),
        results.slice(8, 12).map((result) => Number(result.stdout.trim())),
        Number(results[12]?.stdout.trim()),
      ]
      // Every read of the 200 MB file gave its bytes.
      const sums = (await run(`cat ${pool}/sums-*`)).trim().split('\n')
      expect(sums.length).toBe(reads.reduce((a, b) => a + b, 0))
      expect(new Set(sums.map((line) => line.split(' ')[0]))).toEqual(new Set([bigSum]))

      await waitForUploads(mount, 300_000)
      const peakRss = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${mount.process.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
      // Every file written is on the service once, with the bytes it was written with.
      const stored = emu.tree().filter((entry) => entry.type === 'file' && /^\/w\d\//.test(entry.path))
      expect(stored.length).toBe(written.reduce((a, b) => a + b, 0))
      expect(new Set(stored.map((entry) => entry.path)).size).toBe(stored.length)
      for (const entry of stored) {
        const n = Number(/f-(\d+)\.bin$/.exec(entry.path)?.[1])
        expect(entry.whirlpool, entry.path).toBe(poolSums[n % sizes.length])
      }
      process.stdout.write(`stress (${seconds} s): ${stored.length} files written by 8 writers, ${sums.length} full reads of 200 MB by 4 readers, ` +
        `${listings} ls -lR; daemon peak RSS ${Math.round(peakRss / 2 ** 20)} MiB; ${emu.stats().apiCalls} API calls\n`)
      expect(peakRss).toBeGreaterThan(0)
      expect(peakRss).toBeLessThan(400 * 2 ** 20)
      expect(await mount.stop()).toBe(0)
      expectNoFloods(emu)
    } finally {
      await emu.close()
    }
  }, (Number(process.env.FICHFS_STRESS_SECONDS ?? 120) + 400) * 1000)
})
