/**
 * Photo-folder benchmark: what a file manager's visit to a folder of small photos costs, at
 * 1fichier's real pace by default (time scale 1). The visit is test/e2e/photos.test.ts's:
 * `ls -l`, `gio list -a standard::content-type`, `file --mime-type` on every file (it reads
 * each head). It runs cold (a fresh cache), warm (the same mount again) and after a remount
 * (the same cache dir), and reports API calls by endpoint, downloaded bytes and seconds.
 *
 * The baseline is the API's floor for a first visit, by a plain HTTP client in the same run:
 * one get_token per file, spaced as the daemon's pacer spaces calls (400 ms), then each file
 * GET. `ratio` is that floor's time over the cold visit's (1 means the mount adds nothing).
 *
 * Options: --photos 300 --time-scale 1 --latency-ms 50 --mount-arg=... (repeatable).
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startEmulator } from '../../src/emulator/index.js'
import {
  fileUrl, isolateRuntimeDir, main, mustSh, probe, progress, q, ratio, round, sleep, startDaemon, statsDelta, tempRoot,
} from './harness.js'

const { values: opts } = parseArgs({
  options: {
    photos: { type: 'string', default: '300' },
    'time-scale': { type: 'string', default: '1' },
    'latency-ms': { type: 'string', default: '50' },
    'mount-arg': { type: 'string', multiple: true, default: [] },
  },
})

await main('photos', async (cleanup) => {
  const photos = Number(opts.photos)
  const timeScale = Number(opts['time-scale'])
  const latencyMs = Number(opts['latency-ms'])
  const mountArgs = opts['mount-arg']
  const root = await tempRoot(cleanup, 'photos')
  isolateRuntimeDir(root)

  const seed = join(root, 'seed')
  const jpegs = Math.ceil(photos / 2)
  progress(`making ${jpegs} JPEG and ${photos - jpegs} PNG files with ffmpeg`)
  await mustSh(`mkdir -p ${q(join(seed, 'photos'))} && cd ${q(join(seed, 'photos'))} && ` +
    `ffmpeg -v error -f lavfi -i testsrc=size=320x240:rate=1 -frames:v ${jpegs} img%03d.jpg && ` +
    `ffmpeg -v error -f lavfi -i mandelbrot=size=160x120:rate=1 -frames:v ${photos - jpegs} shot%03d.png`)
  const emu = await startEmulator({ dataDir: join(root, 'emu'), seedDir: seed, timeScale, rateLimits: true, faults: { latencyMs } })
  cleanup.add('close the emulator', () => emu.close())
  const names = (await readdir(join(seed, 'photos'))).sort()

  const visit = async (folder: string) => {
    const before = emu.stats()
    const t0 = performance.now()
    await mustSh(`ls -l ${q(folder)} > /dev/null && gio list -a standard::content-type ${q(folder)} > /dev/null && cd ${q(folder)} && file -N --mime-type -- * > /dev/null`)
    const seconds = round((performance.now() - t0) / 1000, 2)
    const delta = statsDelta(before, emu.stats())
    return { seconds, apiCalls: delta.apiCalls, calls: delta.calls, downloadBytes: delta.download.bytes, floods: delta.floods }
  }

  let daemon = await startDaemon(emu, cleanup, { root, label: 'photos', timeScale, extraArgs: mountArgs })
  const folder = join(daemon.mountpoint, 'photos')
  progress('cold visit')
  const cold = await visit(folder)
  progress(`cold: ${cold.apiCalls} calls, ${cold.seconds} s`)
  const warm = await visit(folder)
  await daemon.stop()
  daemon = await startDaemon(emu, cleanup, { root, label: 'photos', timeScale, extraArgs: mountArgs })
  progress('after a remount')
  const remount = await visit(folder)
  const xattrBefore = emu.stats()
  const xattrRun = await mustSh(`cd ${q(folder)} && for f in *; do getfattr --only-values -n user.mime_type "$f" > /dev/null; done`)
  const xattr = { seconds: round(xattrRun.ms / 1000, 2), apiCalls: statsDelta(xattrBefore, emu.stats()).apiCalls }
  await daemon.stop()

  // The floor: one link per file (the API's rule), spaced like the pacer spaces calls.
  await sleep(Math.ceil(2000 / timeScale))
  progress(`plain HTTP: ${names.length} get_token spaced ${Math.ceil(400 / timeScale)} ms, then the files`)
  const floor = await probe<{ wallMs: number; bytes: number }>(emu, [
    'get', '--api', emu.apiBase, '--gap-ms', String(Math.ceil(400 / timeScale)), ...names.map((name) => fileUrl(emu, `/photos/${name}`)),
  ])
  return {
    config: { photos, timeScale, latencyMs, mountArgs },
    cold, warm, remount, xattr,
    floor: { seconds: round(floor.wallMs / 1000, 2), bytes: floor.bytes },
    ratio: ratio(floor.wallMs / 1000, cold.seconds),
  }
})
