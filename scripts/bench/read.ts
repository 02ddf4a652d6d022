/**
 * Read benchmark: an emulator with rate limits on and a latency on every request, the real
 * daemon mounting it, and one JSON line comparing reads through the mount with a plain HTTP
 * client reading the same files in the same run (the ratios are the figures to push toward 1).
 *
 *   sequential  dd of a big file (default 1 GiB) through a fresh mount vs one plain GET, beside
 *               the stages' own ceilings in the same run: `ceiling` (the same dd through
 *               ceiling-fs, an in-memory fuse-native filesystem: the binding's limit) and
 *               `daemonHttp` (reader-path.js: the mount's client + RemoteReader fetching the file
 *               in 128 KiB reads into nothing, no FUSE)
 *   ttfb        first byte of a file nobody read yet, through the mount vs get_token + GET
 *   ffprobe     an MP4 with its moov at the end (ffmpeg's default), cold then warm
 *   parallel    20 files read at once (a second daemon, so its VmHWM is that phase's own)
 *   rss         the daemons' VmHWM (targets: idle <= 70 MiB, peaks <= 150 MiB); idle is VmRSS after
 *               the fresh mount rested IDLE_REST_MS (12 s), idleAtMount the moment it came up
 *   capped      a second emulator capping each download body (--capped-mbps, 25 MB/s): a
 *               --capped-size file (256 MiB) through a fresh mount vs one plain GET, and the
 *               most download bodies the emulator sent at once (`connections`)
 *
 * Options: --size 1G --latency-ms 50 --time-scale 4 --files 20 --file-size 50M
 * --video-seconds 60 --capped-size 256M (0: no capped phase) --capped-mbps 25
 * --mount-arg=--memory-cache=32M (repeatable). A benchmark: no timing asserts.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseSize } from '../../src/cli/config.js'
import { startEmulator, type Emulator, type EmulatorStats } from '../../src/emulator/index.js'
import {
  cpuDelta, cpuMsOf, ddBytes, fileUrl, idleRss, isolateRuntimeDir, main, mbps, MIB, mustSh, probe, progress, q, ratio, round, sh, sleep, startCeiling, startDaemon,
  statsDelta, tempRoot, writeRandomFile,
} from './harness.js'

const { values: opts } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    'latency-ms': { type: 'string', default: '50' },
    'time-scale': { type: 'string', default: '4' },
    files: { type: 'string', default: '20' },
    'file-size': { type: 'string', default: '50M' },
    'video-seconds': { type: 'string', default: '60' },
    'capped-size': { type: 'string', default: '256M' },
    'capped-mbps': { type: 'string', default: '25' },
    'mount-arg': { type: 'string', multiple: true, default: [] },
  },
})

interface GetResult {
  files: Array<{ bytes: number; ttfbMs: number; tokenMs: number; getTtfbMs: number; totalMs: number }>
  bytes: number
  wallMs: number
  transferMs: number
  cpuMs?: number
}

const pad = (n: number) => String(n).padStart(2, '0')

await main('read', async (cleanup) => {
  const size = parseSize(opts.size)
  const latencyMs = Number(opts['latency-ms'])
  const timeScale = Number(opts['time-scale'])
  const fileCount = Number(opts.files)
  const fileSize = parseSize(opts['file-size'])
  const ttfbSize = Math.min(16 * MIB, size)
  const mountArgs = opts['mount-arg']
  const cores = Number((await mustSh('nproc')).stdout.trim())
  const root = await tempRoot(cleanup, 'read')
  isolateRuntimeDir(root)

  // --- the account -------------------------------------------------------------------------
  const seed = join(root, 'seed')
  progress(`writing ${(size / MIB).toFixed(0)} MiB of random data, ${fileCount} x ${(fileSize / MIB).toFixed(0)} MiB, and a video in ${seed}`)
  await writeRandomFile(join(seed, 'big.bin'), size)
  await writeRandomFile(join(seed, 'ttfb.bin'), ttfbSize)
  for (let i = 1; i <= fileCount; i++) await writeRandomFile(join(seed, 'many', `f${pad(i)}.bin`), fileSize)
  const ffmpeg = await sh(`ffmpeg -v error -y -f lavfi -i testsrc=duration=${Number(opts['video-seconds'])}:size=640x360:rate=25 -c:v mpeg4 -q:v 5 ${q(join(seed, 'video.mp4'))}`)
  const haveVideo = ffmpeg.code === 0
  if (!haveVideo) progress(`ffmpeg failed, skipping the ffprobe phase: ${ffmpeg.stderr.slice(-300)}`)

  progress('starting the emulator and seeding it (hashes every byte)')
  const emu = await startEmulator({
    dataDir: join(root, 'emu'),
    seedDir: seed,
    timeScale,
    rateLimits: true,
    faults: { latencyMs },
  })
  cleanup.add('close the emulator', () => emu.close())
  // Both readers then find the blobs in the page cache: neither pays for the disk, whoever goes first.
  await mustSh(`cat ${q(join(emu.dataDir, 'blobs'))}/* > /dev/null 2>&1 || find ${q(join(emu.dataDir, 'blobs'))} -type f -exec cat {} + > /dev/null`)
  const manyPaths = (await readdir(join(seed, 'many'))).sort().map((name) => `/many/${name}`)
  const videoBytes = haveVideo ? (await mustSh(`stat -c %s ${q(join(seed, 'video.mp4'))}`)).stdout.trim() : null

  // --- plain HTTP, before any daemon shares this IP's flood budget ---------------------------
  const gapMs = Math.ceil(1000 / timeScale / 2)
  progress('plain HTTP: first byte of ttfb.bin')
  const httpTtfb = await probe<GetResult>(emu, ['get', '--api', emu.apiBase, '--first-byte', fileUrl(emu, '/ttfb.bin')])
  await sleep(gapMs * 4)
  progress('plain HTTP: big.bin, whole')
  // The emulator runs in this process: its CPU time over a phase is this process's.
  const httpEmulatorCpu0 = cpuMsOf(process.pid)
  const httpBig = await probe<GetResult>(emu, ['get', '--api', emu.apiBase, fileUrl(emu, '/big.bin')])
  const httpEmulatorCpuMs = cpuDelta(httpEmulatorCpu0, cpuMsOf(process.pid))
  if (httpBig.bytes !== size) throw new Error(`plain GET got ${httpBig.bytes} bytes of big.bin, expected ${size}`)
  await sleep(gapMs * 4)

  // --- the stages' ceilings, same run, same machine ---------------------------------------------
  progress(`ceiling: dd of /big.bin (${(size / MIB).toFixed(0)} MiB) through ceiling-fs`)
  const ceilingFs = await startCeiling(cleanup, { root, label: 'ceiling', fileSize: size })
  const ceilingCpu0 = ceilingFs.cpuMs()
  const ceilingDd = await mustSh(`dd if=${q(join(ceilingFs.mountpoint, 'big.bin'))} of=/dev/null bs=1M`)
  const ceilingCpuMs = cpuDelta(ceilingCpu0, ceilingFs.cpuMs())
  if (ddBytes(ceilingDd.stderr) !== size) throw new Error(`dd read ${ddBytes(ceilingDd.stderr)} bytes of the ceiling's big.bin, expected ${size}`)
  await ceilingFs.stop()
  progress('daemon HTTP path: client + RemoteReader fetching big.bin in 128 KiB reads, no FUSE')
  const daemonHttp = await probeReaderPath(emu, fileUrl(emu, '/big.bin'), size, join(root, 'cache-reader-path'), timeScale)
  if (daemonHttp.bytes !== size) throw new Error(`reader-path read ${daemonHttp.bytes} bytes of big.bin, expected ${size}`)
  await sleep(gapMs * 4)
  progress(`plain HTTP: ${fileCount} files at once`)
  const httpMany = await probe<GetResult>(emu, ['get', '--api', emu.apiBase, '--gap-ms', String(gapMs), ...manyPaths.map((path) => fileUrl(emu, path))])
  await sleep(gapMs * 4)

  // --- mount 1: first byte, sequential stream, ffprobe -------------------------------------
  const beforeMount = emu.stats()
  const t0 = performance.now()
  const daemon = await startDaemon(emu, cleanup, { root, label: 'stream', timeScale, extraArgs: mountArgs })
  const mountMs = round(performance.now() - t0)
  const mnt = daemon.mountpoint
  const idle = await idleRss(daemon)
  let mark: EmulatorStats = emu.stats()
  const phase = () => {
    const now = emu.stats()
    const delta = statsDelta(mark, now)
    mark = now
    return delta
  }
  const startupApi = statsDelta(beforeMount, mark)

  progress('mount: first byte of ttfb.bin')
  const mountTtfb = await probe<{ bytes: number; openMs: number; ttfbMs: number }>(emu, ['first-byte', join(mnt, 'ttfb.bin')])
  const ttfbApi = phase()

  progress(`mount: dd of big.bin (${(size / MIB).toFixed(0)} MiB)`)
  const streamCpu0 = daemon.cpuMs()
  const streamEmulatorCpu0 = cpuMsOf(process.pid)
  // `times` after dd: the shell's children's CPU, i.e. dd's (with the kernel's copies in its syscalls).
  const stream = await mustSh(`dd if=${q(join(mnt, 'big.bin'))} of=/dev/null bs=1M; times`)
  const streamEmulatorCpuMs = cpuDelta(streamEmulatorCpu0, cpuMsOf(process.pid))
  const ddCpuMs = childCpuMsOf(stream.stdout)
  const streamBytes = ddBytes(stream.stderr)
  if (streamBytes !== size) throw new Error(`dd read ${streamBytes} bytes of big.bin through the mount, expected ${size}`)
  const streamApi = phase()
  const afterStream = daemon.rss()
  const streamCpuMs = cpuDelta(streamCpu0, daemon.cpuMs())

  let ffprobe: Record<string, unknown> | null = null
  if (haveVideo) {
    const command = `ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 ${q(join(mnt, 'video.mp4'))}`
    progress('mount: ffprobe, cold')
    const cold = await mustSh(command)
    const coldApi = phase()
    progress('mount: ffprobe, warm')
    const warm = await mustSh(command)
    const warmApi = phase()
    const local = await mustSh(`ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 ${q(join(seed, 'video.mp4'))}`)
    // Byte-exact through the mount (after the timings: this read would warm the caches).
    const sums = await mustSh(`sha256sum < ${q(join(mnt, 'video.mp4'))}; sha256sum < ${q(join(seed, 'video.mp4'))}`)
    const [ours, theirs] = sums.stdout.trim().split('\n')
    phase()
    ffprobe = {
      videoBytes: Number(videoBytes),
      coldMs: round(cold.ms),
      warmMs: round(warm.ms),
      localMs: round(local.ms),
      duration: Number(cold.stdout.trim()),
      durationMatches: cold.stdout.trim() === local.stdout.trim() && warm.stdout.trim() === local.stdout.trim(),
      intact: ours === theirs,
      api: { cold: coldApi, warm: warmApi },
    }
  }
  const afterFfprobe = daemon.rss()
  const streamStatus = await daemon.status()
  const streamWarnings = daemon.warnings()
  const streamStop = await daemon.stop()
  mark = emu.stats()

  // --- mount 2: many files at once, in a fresh daemon so that its VmHWM is this phase's -------
  // A fresh daemon lists the root at start: within 30 s (scaled) of the last listing, that is a
  // flood, which the new daemon cannot know of (its cache dir, and so its pacer gates, are new).
  await sleep(30_000 / timeScale + 500)
  const daemon2 = await startDaemon(emu, cleanup, { root, label: 'parallel', timeScale, extraArgs: mountArgs })
  const idle2 = await idleRss(daemon2)
  mark = emu.stats()
  progress(`mount: ${fileCount} files at once`)
  const parallelCpu0 = daemon2.cpuMs()
  const readers = manyPaths.map((path) => `dd if=${q(join(daemon2.mountpoint, path))} of=/dev/null bs=1M 2>&1 | grep -E '^[0-9]+ bytes' &`)
  const parallel = await mustSh(`${readers.join('\n')}\nwait`)
  const parallelBytes = parallel.stdout.trim().split('\n').reduce((sum, line) => sum + (ddBytes(line) ?? 0), 0)
  if (parallelBytes !== fileCount * fileSize) throw new Error(`the parallel readers got ${parallelBytes} bytes, expected ${fileCount * fileSize}`)
  const parallelApi = phase()
  const afterParallel = daemon2.rss()
  const parallelCpuMs = cpuDelta(parallelCpu0, daemon2.cpuMs())
  const parallelStatus = await daemon2.status()
  const parallelWarnings = daemon2.warnings()
  const parallelStop = await daemon2.stop()
  const stats = emu.stats()

  // --- capped: a link that limits each download body, read through a fresh mount --------------
  const cappedSize = parseSize(opts['capped-size'])
  const cappedBandwidth = Number(opts['capped-mbps']) * 1e6
  const capped = cappedSize > 0 ? await cappedPhase(cleanup, root, { size: cappedSize, bandwidth: cappedBandwidth, latencyMs, timeScale, mountArgs }) : null
  const sequentialMBps = mbps(size, stream.ms)
  const httpMBps = mbps(size, httpBig.wallMs)
  const ceilingMBps = mbps(size, ceilingDd.ms)

  return {
    config: { sizeBytes: size, latencyMs, timeScale, files: fileCount, fileSizeBytes: fileSize, mountArgs, cpus: String(cores) },
    sequential: {
      bytes: size,
      mountMBps: sequentialMBps,
      httpMBps,
      ratio: ratio(sequentialMBps, httpMBps),
      ceilingMBps,
      daemonHttpMBps: daemonHttp.MBps,
      /** Each stage against the others, same run: who owns the loss. */
      ratios: {
        mountToHttp: ratio(sequentialMBps, httpMBps),
        mountToCeiling: ratio(sequentialMBps, ceilingMBps),
        mountToDaemonHttp: ratio(sequentialMBps, daemonHttp.MBps),
        daemonHttpToHttp: ratio(daemonHttp.MBps, httpMBps),
        httpToCeiling: ratio(httpMBps, ceilingMBps),
      },
      mountMs: round(stream.ms),
      httpMs: httpBig.wallMs,
      /** The daemon's CPU time over the stream: near mountMs would mean it is CPU-bound. */
      daemonCpuMs: streamCpuMs,
      cpu: cpuBudget({
        cores,
        size,
        httpMBps,
        http: { clientMs: httpBig.cpuMs, emulatorMs: httpEmulatorCpuMs },
        mount: { daemonMs: streamCpuMs, emulatorMs: streamEmulatorCpuMs, ddMs: ddCpuMs },
        ceilingDaemonMs: ceilingCpuMs,
      }),
      downloadAmplification: round(streamApi.download.bytes / size, 3),
    },
    ceiling: { MBps: ceilingMBps, ms: round(ceilingDd.ms), cpuMs: ceilingCpuMs },
    daemonHttp: daemonHttp,
    capped,
    ttfb: {
      mountMs: mountTtfb.ttfbMs,
      mountOpenMs: mountTtfb.openMs,
      httpMs: httpTtfb.files[0]?.ttfbMs,
      httpTokenMs: httpTtfb.files[0]?.tokenMs,
      ratio: ratio(httpTtfb.files[0]?.ttfbMs ?? 0, mountTtfb.ttfbMs),
    },
    ffprobe,
    parallel: {
      files: fileCount,
      bytes: parallelBytes,
      mountMBps: mbps(parallelBytes, parallel.ms),
      httpMBps: mbps(httpMany.bytes, httpMany.wallMs),
      ratio: ratio(mbps(parallelBytes, parallel.ms), mbps(httpMany.bytes, httpMany.wallMs)),
      mountMs: round(parallel.ms),
      httpMs: httpMany.wallMs,
      daemonCpuMs: parallelCpuMs,
      /** Bytes the emulator served for these reads, per byte read: 1 means nothing fetched twice. */
      downloadAmplification: round(parallelApi.download.bytes / parallelBytes, 3),
    },
    rssMiB: {
      stream: { idle: idle.rested, idleAtMount: idle.atMount, peakAfterStream: afterStream?.peakMiB, peakAfterFfprobe: afterFfprobe?.peakMiB, nowAfterStream: afterStream?.nowMiB },
      parallel: { idle: idle2.rested, idleAtMount: idle2.atMount, peak: afterParallel?.peakMiB, now: afterParallel?.nowMiB },
      targetMiB: { idle: 70, peak: 150 },
    },
    api: {
      mountStartup: startupApi,
      ttfb: ttfbApi,
      stream: streamApi,
      parallel: parallelApi,
      floodsTotal: stats.floods.total,
      floods: stats.floods.last,
    },
    daemon: {
      mountMs,
      stream: { reader: streamStatus.reader, cache: streamStatus.cache, warnings: streamWarnings, stop: streamStop },
      parallel: { reader: parallelStatus.reader, warnings: parallelWarnings, stop: parallelStop },
    },
  }
})

interface ReaderPathResult {
  bytes: number
  ms: number
  MBps: number
  cpuMs: number
  reader: Record<string, number>
  cache: Record<string, number>
}

/** reader-path.js in a child process (its own event loop, as the daemon has). */
async function probeReaderPath(emu: Emulator, url: string, size: number, cacheDir: string, timeScale: number): Promise<ReaderPathResult> {
  const script = join(import.meta.dirname, 'reader-path.js')
  const args = [process.execPath, script, '--api', emu.apiBase, '--url', url, '--size', String(size), '--cache-dir', cacheDir, '--time-scale', String(timeScale)]
  const result = await sh(args.map(q).join(' '), { env: { ...process.env, FICHFS_API_KEY: emu.apiKey } })
  if (result.code !== 0) throw new Error(`reader-path failed (${result.code}): ${result.stderr.slice(-2000)}`)
  return JSON.parse(result.stdout) as ReaderPathResult
}

/**
 * A second emulator whose every download body is capped (as 1fichier caps a connection): one
 * plain GET of the file, then a fresh mount's dd of it; `connections` is the most bodies the
 * emulator sent at once during the mount's read.
 */
async function cappedPhase(
  cleanup: Parameters<Parameters<typeof main>[1]>[0],
  root: string,
  options: { size: number; bandwidth: number; latencyMs: number; timeScale: number; mountArgs: string[] },
) {
  const seed = join(root, 'seed-capped')
  progress(`capped: writing ${(options.size / MIB).toFixed(0)} MiB, emulator at ${(options.bandwidth / 1e6).toFixed(1)} MB/s per body`)
  await writeRandomFile(join(seed, 'capped.bin'), options.size)
  const emu = await startEmulator({
    dataDir: join(root, 'emu-capped'),
    seedDir: seed,
    timeScale: options.timeScale,
    rateLimits: true,
    faults: { latencyMs: options.latencyMs, bandwidthBytesPerSec: options.bandwidth },
  })
  cleanup.add('close the capped emulator', () => emu.close())
  await mustSh(`find ${q(join(emu.dataDir, 'blobs'))} -type f -exec cat {} + > /dev/null`)
  progress('capped: plain HTTP, one stream')
  const http = await probe<GetResult>(emu, ['get', '--api', emu.apiBase, fileUrl(emu, '/capped.bin')])
  if (http.bytes !== options.size) throw new Error(`plain GET got ${http.bytes} bytes of capped.bin, expected ${options.size}`)
  const daemon = await startDaemon(emu, cleanup, { root, label: 'capped', timeScale: options.timeScale, extraArgs: options.mountArgs })
  emu.resetStats()
  progress('capped: mount, dd of capped.bin')
  const dd = await mustSh(`dd if=${q(join(daemon.mountpoint, 'capped.bin'))} of=/dev/null bs=1M`)
  if (ddBytes(dd.stderr) !== options.size) throw new Error(`dd read ${ddBytes(dd.stderr)} bytes of capped.bin through the mount, expected ${options.size}`)
  const after = emu.stats()
  const rss = daemon.rss()
  const status = await daemon.status()
  await daemon.stop()
  const mountMBps = mbps(options.size, dd.ms)
  const httpMBps = mbps(options.size, http.wallMs)
  return {
    bytes: options.size,
    bandwidthMBps: round(options.bandwidth / 1e6, 1),
    mountMBps,
    httpMBps,
    ratio: ratio(mountMBps, httpMBps),
    connections: after.download.maxActive,
    downloadRequests: after.download.requests,
    downloadAmplification: round(after.download.bytes / options.size, 3),
    floods: after.floods.total,
    peakRssMiB: rss?.peakMiB,
    reader: status.reader,
  }
}

/** The children's user and system times that bash's `times` prints last ("0m0.010s 0m0.350s"). */
function childCpuMsOf(stdout: string): number | null {
  const last = stdout.trim().split('\n').at(-1) ?? ''
  const times = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000)
  return times.length === 2 ? Math.round((times[0] as number) + (times[1] as number)) : null
}

/**
 * Where the CPU of both sides goes, per MB read, and what that allows on this machine's cores:
 * `mountCpuBoundMBps` is the mount's rate if every core did nothing but its pipeline (daemon,
 * emulator, dd). When it is near `mountMBps`, the mount is CPU-bound, and `neededCpuMsPerMB`
 * is what the whole pipeline may cost per MB for 0.9 of plain HTTP. `floorMsPerMB` is the least
 * it could cost with no fichfs work at all: the emulator serving it (as measured), dd, the
 * binding alone (ceiling-fs's CPU) and a plain HTTP client receiving it; `floorCpuBoundMBps` is
 * the rate that floor allows. A floor above `neededCpuMsPerMB` means 0.9 cannot be reached on
 * this machine whatever the daemon does; `floorRatio` says the same as a ratio.
 */
function cpuBudget(input: {
  cores: number
  size: number
  httpMBps: number
  http: { clientMs?: number; emulatorMs: number | null }
  mount: { daemonMs: number | null; emulatorMs: number | null; ddMs: number | null }
  ceilingDaemonMs: number | null
}) {
  const mb = input.size / 1e6
  const perMB = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : round(ms / mb, 2))
  const mountTotal = input.mount.daemonMs === null ? null : input.mount.daemonMs + (input.mount.emulatorMs ?? 0) + (input.mount.ddMs ?? 0)
  const httpTotal = (input.http.emulatorMs ?? 0) + (input.http.clientMs ?? 0)
  const floor = (input.mount.emulatorMs ?? 0) + (input.mount.ddMs ?? 0) + (input.ceilingDaemonMs ?? 0) + (input.http.clientMs ?? 0)
  const floorBoundMBps = (input.cores * 1000) / (floor / mb)
  return {
    cores: input.cores,
    http: { ...input.http, totalMs: httpTotal, msPerMB: perMB(httpTotal) },
    mount: { ...input.mount, totalMs: mountTotal, msPerMB: perMB(mountTotal), daemonMsPerMB: perMB(input.mount.daemonMs), emulatorMsPerMB: perMB(input.mount.emulatorMs) },
    mountCpuBoundMBps: mountTotal ? round((input.cores * 1000) / (mountTotal / mb), 1) : null,
    neededCpuMsPerMB: round((input.cores * 1000) / (0.9 * input.httpMBps), 2),
    floorMsPerMB: perMB(floor),
    floorCpuBoundMBps: round(floorBoundMBps, 1),
    /** The best `sequential.ratio` that floor allows in this run (1 when plain HTTP is slower). */
    floorRatio: round(Math.min(1, floorBoundMBps / input.httpMBps), 3),
  }
}
