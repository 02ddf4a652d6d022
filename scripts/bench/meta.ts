/**
 * Metadata benchmark: a tree of --folders x --files small files in an emulator with rate limits
 * on and a latency on every request, the real daemon mounting it, and the same tree served by
 * ceiling-fs (the binding's ceiling, same kernel options) in the same run. One JSON line.
 *
 *   find   `find MNT -type f` on a fresh mount: lists every folder (the API calls are counted)
 *   stat   lstat of every file, --passes times, from a child process (stat-walk.js), in
 *          --stat-rounds rounds alternating mount and ceiling (medians)
 *   lsR    `ls -lR MNT`, --ls-runs times (the median is the figure), each once the kernel's
 *          entries have expired (entry_timeout after that side's last walk): a look-up per file
 *
 * Every ratio is ceiling time / mount time (or mount rate / ceiling rate): 1 means the mount
 * costs no more than the binding itself. Options: --folders 10 --files 1000 --passes 3
 * --stat-rounds 5 --ls-runs 5 --latency-ms 50 --time-scale 4 --mount-arg=... (repeatable).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startEmulator, type EmulatorStats } from '../../src/emulator/index.js'
import { isolateRuntimeDir, main, mustSh, progress, q, ratio, round, sh, sleep, startCeiling, startDaemon, statsDelta, tempRoot } from './harness.js'

const { values: opts } = parseArgs({
  options: {
    folders: { type: 'string', default: '10' },
    files: { type: 'string', default: '1000' },
    passes: { type: 'string', default: '3' },
    'ls-runs': { type: 'string', default: '5' },
    'stat-rounds': { type: 'string', default: '5' },
    'latency-ms': { type: 'string', default: '50' },
    'time-scale': { type: 'string', default: '4' },
    'mount-arg': { type: 'string', multiple: true, default: [] },
  },
})

interface Walk {
  passes: Array<{ stats: number; ms: number; perSec: number }>
  total: { stats: number; ms: number; perSec: number }
  bad: number
}

const pad = (n: number, width: number) => String(n).padStart(width, '0')
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}
const diff = (before: number | null, after: number | null) => (before !== null && after !== null ? after - before : null)

await main('meta', async (cleanup) => {
  const folders = Number(opts.folders)
  const files = Number(opts.files)
  const passes = Number(opts.passes)
  const lsRuns = Number(opts['ls-runs'])
  const statRounds = Number(opts['stat-rounds'])
  const latencyMs = Number(opts['latency-ms'])
  const timeScale = Number(opts['time-scale'])
  const root = await tempRoot(cleanup, 'meta')
  isolateRuntimeDir(root)

  // --- the account: the tree ceiling-fs serves (dNN/fNNNN.bin, 1 KiB each) ------------------
  const seed = join(root, 'seed')
  progress(`writing ${folders} x ${files} files of 1 KiB in ${seed}`)
  const body = Buffer.alloc(1024, 0x61)
  for (let d = 0; d < folders; d++) {
    const dir = join(seed, `d${pad(d, 2)}`)
    await mkdir(dir, { recursive: true })
    await Promise.all(Array.from({ length: files }, (_, f) => writeFile(join(dir, `f${pad(f, 4)}.bin`), body)))
  }
  progress('starting the emulator and seeding it')
  const seedStart = performance.now()
  const emu = await startEmulator({ dataDir: join(root, 'emu'), seedDir: seed, timeScale, rateLimits: true, faults: { latencyMs } })
  cleanup.add('close the emulator', () => emu.close())
  const seedMs = round(performance.now() - seedStart)

  // --- the mount, then the ceiling with the same kernel timeouts ------------------------------
  const beforeMount = emu.stats()
  const daemon = await startDaemon(emu, cleanup, { root, label: 'meta', timeScale, extraArgs: opts['mount-arg'] })
  const mnt = daemon.mountpoint
  const firstStatus = await daemon.status()
  // A daemon that does not say (an older build) runs on libfuse's defaults: 1 s and 1 s.
  const kernel = (firstStatus.kernel as { entryTimeout?: number; attrTimeout?: number } | undefined) ?? {}
  const entryTimeout = kernel.entryTimeout ?? 1
  const attrTimeout = kernel.attrTimeout ?? 1
  const ceiling = await startCeiling(cleanup, {
    root, label: 'ceiling', folders, files,
    extraArgs: ['--entry-timeout', String(entryTimeout), '--attr-timeout', String(attrTimeout)],
  })
  const cmnt = ceiling.mountpoint

  let mark: EmulatorStats = emu.stats()
  const startupApi = statsDelta(beforeMount, mark)
  let opsMark = (firstStatus.ops as Record<string, number> | undefined) ?? null
  let cpuMark = daemon.cpuMs()
  /** The API calls, the daemon's FUSE requests by op, and its CPU time since the last phase. */
  const phase = async () => {
    const now = emu.stats()
    const api = statsDelta(mark, now)
    mark = now
    const status = await daemon.status()
    const opsNow = (status.ops as Record<string, number> | undefined) ?? null
    let ops: Record<string, number> | null = null
    if (opsNow) {
      ops = {}
      for (const [op, count] of Object.entries(opsNow)) {
        const delta = count - (opsMark?.[op] ?? 0)
        if (delta !== 0) ops[op] = delta
      }
    }
    opsMark = opsNow
    const cpu = daemon.cpuMs()
    const daemonCpuMs = diff(cpuMark, cpu)
    cpuMark = cpu
    const metadata = (status.metadata as Record<string, unknown> | undefined) ?? null
    return { api, ops, daemonCpuMs, metadata }
  }
  const total = folders * files

  // --- cold find -----------------------------------------------------------------------------
  const countFiles = (dir: string) => `find ${q(dir)} -type f | wc -l`
  progress('find, cold, through the mount')
  const findMount = await mustSh(countFiles(mnt))
  const findPhase = await phase()
  if (Number(findMount.stdout.trim()) !== total) throw new Error(`find saw ${findMount.stdout.trim()} files through the mount, expected ${total}`)
  progress('find, cold, through the ceiling')
  const findCeiling = await mustSh(countFiles(cmnt))
  if (Number(findCeiling.stdout.trim()) !== total) throw new Error(`find saw ${findCeiling.stdout.trim()} files through ceiling-fs, expected ${total}`)

  // --- warm stat -----------------------------------------------------------------------------
  const walk = async (dir: string): Promise<Walk> => {
    const args = [process.execPath, join(import.meta.dirname, 'stat-walk.js'), dir, '--folders', String(folders), '--files', String(files), '--passes', String(passes)]
    const result = await sh(args.map(q).join(' '))
    if (result.code !== 0) throw new Error(`stat-walk ${dir} failed (${result.code}): ${result.stderr.slice(-2000)}`)
    const parsed = JSON.parse(result.stdout) as Walk
    if (parsed.bad > 0) throw new Error(`stat-walk: ${parsed.bad} lstat calls under ${dir} failed or saw a wrong file`)
    return parsed
  }
  // Each walk (the stat rounds, then ls -lR) starts with the kernel's entries of the files
  // expired (entry_timeout since that side was last walked): one look-up per file on both
  // sides, whatever order they run in. Before the first round no file was ever looked up.
  const lastWalk = { mount: Number.NEGATIVE_INFINITY, ceiling: Number.NEGATIVE_INFINITY }
  const settle = async (side: 'mount' | 'ceiling') => {
    const wait = lastWalk[side] + (Math.max(entryTimeout, attrTimeout) + 0.5) * 1000 - performance.now()
    if (wait > 0) await sleep(wait)
  }
  const statMount: Walk[] = []
  const statCeiling: Walk[] = []
  for (let round = 0; round < statRounds; round++) {
    progress(`stat of ${total} files x ${passes}, round ${round + 1}/${statRounds}`)
    await settle('mount')
    statMount.push(await walk(mnt))
    lastWalk.mount = performance.now()
    await settle('ceiling')
    statCeiling.push(await walk(cmnt))
    lastWalk.ceiling = performance.now()
  }
  const statPhase = await phase()
  /** Median over the rounds of a rate taken from each round's walk. */
  const medianOf = (walks: Walk[], pick: (walk: Walk) => number | undefined) => median(walks.map((w) => pick(w) ?? 0))

  // --- ls -lR --------------------------------------------------------------------------------
  // Lines naming a file: the listing is whole on both sides.
  const lsR = (dir: string) => `ls -lR ${q(dir)} | grep -c ' f[0-9]*\\.bin$'`
  const lsMount: number[] = []
  const lsCeiling: number[] = []
  const lsPhases = []
  for (let run = 0; run < lsRuns; run++) {
    progress(`ls -lR, run ${run + 1}/${lsRuns}`)
    await settle('mount')
    const m = await mustSh(lsR(mnt))
    lastWalk.mount = performance.now()
    lsPhases.push(await phase())
    if (Number(m.stdout.trim()) !== total) throw new Error(`ls -lR showed ${m.stdout.trim()} files through the mount, expected ${total}`)
    lsMount.push(round(m.ms))
    await settle('ceiling')
    const c = await mustSh(lsR(cmnt))
    lastWalk.ceiling = performance.now()
    if (Number(c.stdout.trim()) !== total) throw new Error(`ls -lR showed ${c.stdout.trim()} files through ceiling-fs, expected ${total}`)
    lsCeiling.push(round(c.ms))
  }

  const warnings = daemon.warnings()
  const ceilingCpuMs = ceiling.cpuMs()
  const stop = await daemon.stop()
  await ceiling.stop()
  const stats = emu.stats()
  const folderLs = (api: { calls: Record<string, number> }) => Object.entries(api.calls).filter(([path]) => path.startsWith('folder/ls')).reduce((sum, [, n]) => sum + n, 0)
  const perEntry = (ops: Record<string, number> | null, entries: number) =>
    ops ? Object.fromEntries(Object.entries(ops).map(([op, n]) => [op, round(n / entries, 2)])) : null

  return {
    config: { folders, files, passes, statRounds, lsRuns, latencyMs, timeScale, mountArgs: opts['mount-arg'], kernel: { entryTimeout, attrTimeout, reported: firstStatus.kernel !== undefined }, cpus: (await mustSh('nproc')).stdout.trim(), seedMs },
    find: {
      mountMs: round(findMount.ms),
      ceilingMs: round(findCeiling.ms),
      ratio: ratio(findCeiling.ms, findMount.ms),
      folderListings: folderLs(findPhase.api),
    },
    stat: {
      mountPerSec: medianOf(statMount, (w) => w.total.perSec),
      ceilingPerSec: medianOf(statCeiling, (w) => w.total.perSec),
      ratio: ratio(medianOf(statMount, (w) => w.total.perSec), medianOf(statCeiling, (w) => w.total.perSec)),
      passes: Array.from({ length: passes }, (_, i) => ({
        mountPerSec: medianOf(statMount, (w) => w.passes[i]?.perSec),
        ceilingPerSec: medianOf(statCeiling, (w) => w.passes[i]?.perSec),
        ratio: ratio(medianOf(statMount, (w) => w.passes[i]?.perSec), medianOf(statCeiling, (w) => w.passes[i]?.perSec)),
      })),
      rounds: { mountPerSec: statMount.map((w) => w.total.perSec), ceilingPerSec: statCeiling.map((w) => w.total.perSec) },
      /** Best round of each side: other load only ever slows a walk down. */
      best: {
        mountPerSec: Math.max(...statMount.map((w) => w.total.perSec)),
        ceilingPerSec: Math.max(...statCeiling.map((w) => w.total.perSec)),
        ratio: ratio(Math.max(...statMount.map((w) => w.total.perSec)), Math.max(...statCeiling.map((w) => w.total.perSec))),
      },
    },
    lsR: {
      mountMs: median(lsMount),
      ceilingMs: median(lsCeiling),
      ratio: ratio(median(lsCeiling), median(lsMount)),
      runs: { mountMs: lsMount, ceilingMs: lsCeiling },
      best: { mountMs: Math.min(...lsMount), ceilingMs: Math.min(...lsCeiling), ratio: ratio(Math.min(...lsCeiling), Math.min(...lsMount)) },
    },
    api: {
      mountStartup: { apiCalls: startupApi.apiCalls, calls: startupApi.calls },
      find: { apiCalls: findPhase.api.apiCalls, calls: findPhase.api.calls },
      stat: { apiCalls: statPhase.api.apiCalls, calls: statPhase.api.calls },
      lsR: { apiCalls: lsPhases.reduce((sum, p) => sum + p.api.apiCalls, 0) },
      floodsTotal: stats.floods.total,
    },
    /** FUSE requests the daemon served (null: a build that does not count them), and per file. */
    ops: {
      find: findPhase.ops,
      stat: statPhase.ops,
      statPerFile: perEntry(statPhase.ops, total * passes * statRounds),
      lsR: lsPhases[0]?.ops ?? null,
      lsRPerFile: perEntry(lsPhases[0]?.ops ?? null, total),
    },
    /** The daemon's metadata counters after each phase (fichfs status: listings, attribute cache). */
    metadata: { find: findPhase.metadata, stat: statPhase.metadata, lsR: lsPhases.at(-1)?.metadata ?? null },
    daemonCpuMs: { find: findPhase.daemonCpuMs, stat: statPhase.daemonCpuMs, lsR: lsPhases.map((p) => p.daemonCpuMs) },
    ceilingCpuMs,
    daemon: { warnings, stop },
  }
})
