/**
 * Write benchmark: an emulator with rate limits on and a latency on every request, the real
 * daemon mounting it, and one JSON line comparing writes through the mount with a plain HTTP
 * upload of the same file to the same emulator in the same run.
 *
 *   big     dd conv=fsync of a big file (default 1 GiB) into the mount: fichfs's fsync returns
 *           once the file is on 1fichier, so dd's time is the upload's; vs get_upload_server +
 *           upload.cgi + end.pl by a plain client, and the daemon's client alone (upload-path.js);
 *           each stage against its own ceiling (the binding, the page cache, the plain upload)
 *   rsync   rsync -a of 500 small random files into a new folder, until the upload queue is
 *           empty (control socket); API-host calls and upload requests per file
 *   rss     each phase's daemon VmHWM (a fresh daemon per phase), and its VmRSS idle (after the fresh mount
 *           rested 12 s; idleAtMount: the moment it came up); targets idle <= 70 MiB, peaks <= 150 MiB,
 *           since file data lives in the spool, not in memory
 *
 * Options: --size 1G --latency-ms 50 --time-scale 10 --small-files 500 --small-min 1K
 * --small-max 20K --mount-arg=--write-back=1s (repeatable). A benchmark: no timing asserts.
 */
import { randomInt } from 'node:crypto'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseSize } from '../../src/cli/config.js'
import { nodeFlagsOf } from '../../src/cli/launcher.js'
import { type Emulator, startEmulator } from '../../src/emulator/index.js'
import {
  BIN, cpuDelta, cpuMsOf, ddBytes, idleRss, isolateRuntimeDir, type Daemon, main, mbps, MIB, probe, progress, q, ratio, round, sh, sleep, startCeiling, startDaemon, statsDelta,
  tempRoot, writeRandomFile,
} from './harness.js'

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    'latency-ms': { type: 'string', default: '50' },
    'time-scale': { type: 'string', default: '4' },
    'small-files': { type: 'string', default: '500' },
    'small-min': { type: 'string', default: '1K' },
    'small-max': { type: 'string', default: '20K' },
    'mount-arg': { type: 'string', multiple: true, default: [] },
  },
})

interface UploadResult {
  bytes: number
  serverMs: number
  uploadMs: number
  endMs: number
  totalMs: number
  links: Array<{ download: string; size: string }>
}

/** Phases record their failure instead of ending the run: the write path is what is measured. */
async function attempt<T>(label: string, work: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await work()
  } catch (error) {
    progress(`${label} failed: ${(error as Error).message}`)
    return { error: (error as Error).message }
  }
}

const tail = (text: string, lines = 15) => text.trim().split('\n').slice(-lines).join('\n')

interface UploadPathResult {
  bytes: number
  ms: number
  MBps: number
  cpuMs: number
  hashed: boolean
}

/** upload-path.js in a child process, with the daemon's Node flags (native Whirlpool). */
async function probeUploadPath(emu: Emulator, file: string, cacheDir: string, timeScale: number): Promise<UploadPathResult> {
  const script = join(import.meta.dirname, 'upload-path.js')
  const args = [process.execPath, ...nodeFlagsOf(BIN), script, '--api', emu.apiBase, '--file', file, '--name', 'upload-path.bin', '--cache-dir', cacheDir, '--time-scale', String(timeScale)]
  const result = await sh(args.map(q).join(' '), { env: { ...process.env, FICHFS_API_KEY: emu.apiKey } })
  if (result.code !== 0) throw new Error(`upload-path failed (${result.code}): ${result.stderr.slice(-2000)}`)
  return JSON.parse(result.stdout) as UploadPathResult
}

/** Poll the queue while `running` lasts; the ms from `start` to the first byte sent, or null. */
async function watchUploadStart(daemon: Daemon, running: Promise<unknown>, start: number): Promise<number | null> {
  let finished = false
  void running.finally(() => (finished = true))
  while (!finished) {
    try {
      const { uploads } = await daemon.status()
      if (uploads.bytesSent > 0 || uploads.uploading > 0) return round(performance.now() - start)
    } catch {
      // A busy daemon may answer late; the next poll will tell.
    }
    await sleep(100)
  }
  return null
}

await main('write', async (cleanup) => {
  const size = parseSize(opts.size)
  const latencyMs = Number(opts['latency-ms'])
  const timeScale = Number(opts['time-scale'])
  const smallCount = Number(opts['small-files'])
  const smallMin = parseSize(opts['small-min'])
  const smallMax = parseSize(opts['small-max'])
  const mountArgs = opts['mount-arg']
  const root = await tempRoot(cleanup, 'write')
  isolateRuntimeDir(root)

  const src = join(root, 'src')
  progress(`writing ${(size / MIB).toFixed(0)} MiB of random data and ${smallCount} small files in ${src}`)
  const bigPath = join(src, 'big.bin')
  await writeRandomFile(bigPath, size)
  let smallBytes = 0
  for (let i = 1; i <= smallCount; i++) {
    const bytes = randomInt(smallMin, smallMax + 1)
    smallBytes += bytes
    await writeRandomFile(join(src, 'small', `file-${String(i).padStart(4, '0')}.dat`), bytes)
  }
  // The source is read twice (baseline, mount): both from the page cache, neither from disk.
  await sh(`cat ${q(bigPath)} > /dev/null`)

  const emu = await startEmulator({ dataDir: join(root, 'emu'), timeScale, rateLimits: true, faults: { latencyMs } })
  cleanup.add('close the emulator', () => emu.close())
  const gapMs = Math.ceil(1000 / timeScale / 2)

  // --- plain HTTP upload, before any daemon shares this IP's flood budget --------------------
  progress('plain HTTP: upload of big.bin')
  // (This process's CPU is the in-process emulator's, mostly.)
  const plainCpu0 = cpuMsOf(process.pid)
  const baseline = await probe<UploadResult>(emu, ['upload', '--api', emu.apiBase, '--file', bigPath, '--name', 'baseline.bin'])
  const plainEmulatorCpuMs = cpuDelta(plainCpu0, cpuMsOf(process.pid))
  const baselineEntry = emu.tree().find((entry) => entry.path === '/baseline.bin')
  if (baselineEntry?.size !== size) throw new Error(`the plain upload stored ${baselineEntry?.size} bytes, expected ${size}`)
  await sleep(gapMs * 4)

  // --- the daemon's own upload path without FUSE (its client, hashing beside the upload) ----
  progress('upload path: the daemon\'s client uploads big.bin from the disk (upload-path.js)')
  const pathCpu0 = cpuMsOf(process.pid)
  const uploadPath = await attempt('upload-path', () => probeUploadPath(emu, bigPath, join(root, 'cache-upload-path'), timeScale))
  const pathEmulatorCpuMs = cpuDelta(pathCpu0, cpuMsOf(process.pid))
  await sleep(gapMs * 4)

  // --- the stages' own ceilings, same run: the binding (writes forgotten), the local disk --
  progress('ceilings: dd conv=fsync into the in-memory fuse-native filesystem, and onto the local disk')
  const ceilingFs = await startCeiling(cleanup, { root, label: 'ceiling', fileSize: 1 << 20 })
  const ceilingDd = await sh(`dd if=${q(bigPath)} of=${q(join(ceilingFs.mountpoint, 'new.bin'))} bs=1M conv=fsync`)
  await ceilingFs.stop()
  const diskDd = await sh(`dd if=${q(bigPath)} of=${q(join(root, 'disk-copy.bin'))} bs=1M conv=fsync`)
  await sh(`rm -f ${q(join(root, 'disk-copy.bin'))}`)
  // The spool's own writes, 128 KiB at a time as FUSE hands them over, into the page cache
  // (the fdatasync comes later, beside the upload): each FUSE write waits for one of them.
  const pageCacheDd = await sh(`dd if=${q(bigPath)} of=${q(join(root, 'page-cache-copy.bin'))} bs=128K`)
  await sh(`rm -f ${q(join(root, 'page-cache-copy.bin'))}`)

  // --- mount 1: one big file, dd conv=fsync ------------------------------------------------
  const daemon = await startDaemon(emu, cleanup, { root, label: 'big', timeScale, extraArgs: mountArgs })
  const idle = await idleRss(daemon)
  const beforeBig = emu.stats()
  progress(`mount: dd conv=fsync of ${(size / MIB).toFixed(0)} MiB`)
  const bigCpu0 = daemon.cpuMs()
  const ddStart = performance.now()
  const ddRun = sh(`dd if=${q(bigPath)} of=${q(join(daemon.mountpoint, 'through-mount.bin'))} bs=1M conv=fsync`)
  // When the upload starts splits dd's time in two: writing into the spool, then uploading.
  const uploadStart = watchUploadStart(daemon, ddRun, ddStart)
  const dd = await ddRun
  const uploadStartMs = await uploadStart
  const bigCpuMs = cpuDelta(bigCpu0, daemon.cpuMs())
  const ddDone = emu.tree().find((entry) => entry.path === '/through-mount.bin')
  const queue = await attempt('waiting for the upload queue', () => daemon.waitUploads(3_600_000))
  const afterBig = emu.stats()
  const stored = emu.tree().find((entry) => entry.path === '/through-mount.bin')
  const bigRss = daemon.rss()
  const bigStatus = await attempt('status', () => daemon.status())
  const bigWarnings = daemon.warnings()
  const bigStop = await daemon.stop()
  const bigApi = statsDelta(beforeBig, afterBig)
  const big = {
    bytes: size,
    ddExit: dd.code,
    ddBytes: ddBytes(dd.stderr),
    ddError: dd.code === 0 ? undefined : tail(dd.stderr),
    mountMs: round(dd.ms),
    mountMBps: dd.code === 0 ? mbps(size, dd.ms) : null,
    /** From dd's start to the first upload byte (status polled every 100 ms): the spooling part. */
    uploadStartedAfterMs: uploadStartMs,
    daemonCpuMs: bigCpuMs,
    httpMs: baseline.totalMs,
    httpMBps: mbps(size, baseline.totalMs),
    ratio: dd.code === 0 ? ratio(mbps(size, dd.ms), mbps(size, baseline.totalMs)) : null,
    http: { serverMs: baseline.serverMs, uploadMs: baseline.uploadMs, endMs: baseline.endMs, emulatorCpuMs: plainEmulatorCpuMs },
    /**
     * The daemon's client alone (upload-path.js: no FUSE, no spool, the file read from the
     * disk, its Whirlpool hashed beside the upload as the uploader does), in the same run:
     * `toHttp` is what the client costs over the plain upload. `emulatorCpuMs` is the
     * emulator's CPU meanwhile (it runs in this process): beside `http.emulatorCpuMs`, near
     * each upload's own time when the emulator's receiving (one thread) is what limits both.
     */
    uploadPath: 'error' in uploadPath ? uploadPath : {
      ...uploadPath, emulatorCpuMs: pathEmulatorCpuMs, toHttp: ratio(baseline.totalMs, uploadPath.ms),
    },
    /**
     * dd's time in its two stages, each against its own ceiling: spooling (until the first
     * upload byte) against the binding alone (`ceiling.fuseMs`), the upload against the plain
     * one. An upload cannot start before the last byte is written (1fichier requires its
     * Content-Length, and a file's size is known at fsync or close), so `boundRatio` is the
     * best `ratio` this run allows: spooling at the binding's ceiling, then the plain upload.
     */
    stages: uploadStartMs === null || dd.code !== 0 || ceilingDd.code !== 0 ? null : {
      spoolMs: uploadStartMs,
      spoolToCeiling: round(ceilingDd.ms / uploadStartMs, 3),
      uploadMs: round(dd.ms - uploadStartMs),
      uploadToHttp: round(baseline.totalMs / (dd.ms - uploadStartMs), 3),
      // The mount's upload against the daemon's client alone: what the spool and the uploader add.
      uploadToPath: 'error' in uploadPath ? null : round(uploadPath.ms / (dd.ms - uploadStartMs), 3),
      boundRatio: round(baseline.totalMs / (ceilingDd.ms + baseline.totalMs), 3),
      // Each FUSE write waits for the binding and then for the spool's write into the page
      // cache, one after the other (the kernel sends one file's writes one at a time): the
      // spooling's own bound is the sum of the two ceilings.
      spoolBoundMs: pageCacheDd.code === 0 ? round(ceilingDd.ms + pageCacheDd.ms) : null,
      spoolToBound: pageCacheDd.code === 0 ? round((ceilingDd.ms + pageCacheDd.ms) / uploadStartMs, 3) : null,
    },
    /** Same run: dd conv=fsync into the binding alone (writes forgotten), and onto the cache disk. */
    ceiling: {
      fuseMs: round(ceilingDd.ms), fuseMBps: ceilingDd.code === 0 ? mbps(size, ceilingDd.ms) : null,
      diskMs: round(diskDd.ms), diskMBps: diskDd.code === 0 ? mbps(size, diskDd.ms) : null,
      pageCacheMs: round(pageCacheDd.ms), pageCacheMBps: pageCacheDd.code === 0 ? mbps(size, pageCacheDd.ms) : null,
    },
    // fsync is meant to return only once the file is on 1fichier: was it there when dd returned?
    storedWhenDdReturned: ddDone?.size === size,
    storedSize: stored?.size ?? null,
    // Same bytes as the plain upload, so the same Whirlpool: the upload is byte-exact.
    intact: stored?.whirlpool != null && stored.whirlpool === baselineEntry.whirlpool,
    queueDrainAfterDdMs: 'ms' in queue ? queue.ms : queue,
    api: bigApi,
  }

  // --- mount 2: rsync -a of many small files -----------------------------------------------
  // A fresh daemon lists the root at start: within 30 s (scaled) of the last listing, that is a
  // flood, which the new daemon cannot know of (its cache dir, and so its pacer gates, are new).
  await sleep(30_000 / timeScale + 500)
  const daemon2 = await startDaemon(emu, cleanup, { root, label: 'rsync', timeScale, extraArgs: mountArgs })
  const idle2 = await idleRss(daemon2)
  const beforeRsync = emu.stats()
  progress(`mount: rsync -a of ${smallCount} files`)
  const rsyncCpu0 = daemon2.cpuMs()
  const t0 = performance.now()
  const rsync = await sh(`rsync -a ${q(join(src, 'small'))}/ ${q(join(daemon2.mountpoint, 'rsync-small'))}/`)
  progress(`rsync exited ${rsync.code} after ${(rsync.ms / 1000).toFixed(1)} s; waiting for the upload queue`)
  const drained = await attempt('waiting for the upload queue', () => daemon2.waitUploads(3_600_000))
  const doneMs = round(performance.now() - t0)
  const afterRsync = emu.stats()
  const smallRss = daemon2.rss()
  const rsyncCpuMs = cpuDelta(rsyncCpu0, daemon2.cpuMs())
  const rsyncStatus = await attempt('status', () => daemon2.status())
  const rsyncWarnings = daemon2.warnings()
  const rsyncStop = await daemon2.stop()
  const rsyncApi = statsDelta(beforeRsync, afterRsync)
  const uploaded = emu.tree().filter((entry) => entry.type === 'file' && entry.path.startsWith('/rsync-small/'))
  const rsyncResult = {
    files: smallCount,
    bytes: smallBytes,
    rsyncExit: rsync.code,
    rsyncError: rsync.code === 0 ? undefined : tail(rsync.stderr),
    rsyncMs: round(rsync.ms),
    untilUploadedMs: doneMs,
    daemonCpuMs: rsyncCpuMs,
    queueDrain: 'ms' in drained ? { ms: drained.ms, failed: drained.status.uploads.failed, failures: drained.status.uploads.failures.slice(0, 5) } : drained,
    storedFiles: uploaded.length,
    storedBytes: uploaded.reduce((sum, entry) => sum + (entry.size ?? 0), 0),
    // rsync writes `.name.XXXXXX` and renames it: a temp name reaching 1fichier is a leak.
    storedTempNames: uploaded.filter((entry) => /\/\.[^/]+\.[A-Za-z0-9]{6}$/.test(entry.path)).length,
    apiCallsPerFile: round(rsyncApi.apiCalls / smallCount, 3),
    uploadRequestsPerFile: round(rsyncApi.upload.requests / smallCount, 3),
    api: rsyncApi,
  }

  const stats = emu.stats()
  return {
    config: { sizeBytes: size, latencyMs, timeScale, smallFiles: smallCount, smallMin, smallMax, mountArgs },
    big,
    rsync: rsyncResult,
    rssMiB: {
      big: { idle: idle.rested, idleAtMount: idle.atMount, peak: bigRss?.peakMiB, now: bigRss?.nowMiB },
      rsync: { idle: idle2.rested, idleAtMount: idle2.atMount, peak: smallRss?.peakMiB, now: smallRss?.nowMiB },
      targetMiB: { idle: 70, peak: 150 },
    },
    floodsTotal: stats.floods.total,
    floods: stats.floods.last,
    daemon: {
      big: { uploads: 'uploads' in bigStatus ? bigStatus.uploads : bigStatus, api: 'api' in bigStatus ? bigStatus.api : undefined, warnings: bigWarnings, stop: bigStop },
      rsync: { uploads: 'uploads' in rsyncStatus ? rsyncStatus.uploads : rsyncStatus, api: 'api' in rsyncStatus ? rsyncStatus.api : undefined, warnings: rsyncWarnings, stop: rsyncStop },
    },
  }
})
