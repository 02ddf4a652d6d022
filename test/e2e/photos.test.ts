/**
 * A file manager opening a folder of 300 photos (JPEG and PNG made by ffmpeg): `ls -l`,
 * `gio list -a standard::content-type`, and `file --mime-type` on every file (it reads each
 * head, as MIME sniffing and thumbnailers do). API calls and wall time are measured cold, warm
 * and after a remount, and the cost cuts the API allows are asserted: heads kept on disk cost 0
 * calls after a remount, a download link still valid is reused after a remount, content types
 * come from the listing through the `user.mime_type` xattr, and files uploaded through the
 * mount have their heads on disk already.
 *
 * The figures (calls, seconds) are printed for the record; `npm run bench:photos` measures
 * them at the real pace. Here everything runs at time scale 4: the pacer spaces calls 100 ms
 * apart instead of 400 ms, so the cold visit takes about a quarter of what the real service
 * would take (1 get_token per file is the API's rule). Not 10: 300 calls back to back leave the
 * pacer 20 ms under the emulator's 3-per-second rule at x10, less than a loaded machine's
 * jitter (the emulator sees arrivals in its own event loop); at x4 the margin is 50 ms, as in
 * the benchmarks (scripts/bench/README.md).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { mountFichfs, removeDir, run, stopAllMounts, tempDir, waitForUploads, type TestMount } from '../support/mount.js'

const JPEGS = 150
const PNGS = 150
const PHOTOS = JPEGS + PNGS
/** A second folder, never opened before the link test. */
const MORE = 30
const TIME_SCALE = 4

interface Visit {
  apiCalls: number
  getToken: number
  listings: number
  downloadBytes: number
  seconds: number
}

describe('a folder of 300 photos in a file manager', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount
  const figures: Record<string, Visit> = {}

  /** What a file manager does on opening the folder, with what it cost. */
  async function browse(folder: string, label: string): Promise<{ visit: Visit; types: string; sniffed: string }> {
    const before = emu.stats()
    const started = Date.now()
    await run(`ls -l ${folder} > /dev/null`)
    const types = await run(`gio list -a standard::content-type ${folder}`)
    const sniffed = await run(`cd ${folder} && file -N --mime-type -- *`)
    const after = emu.stats()
    const visit = {
      apiCalls: after.apiCalls - before.apiCalls,
      getToken: (after.calls['download/get_token.cgi'] ?? 0) - (before.calls['download/get_token.cgi'] ?? 0),
      listings: (after.calls['folder/ls.cgi'] ?? 0) - (before.calls['folder/ls.cgi'] ?? 0),
      downloadBytes: after.download.bytes - before.download.bytes,
      seconds: (Date.now() - started) / 1000,
    }
    figures[label] = visit
    return { visit, types, sniffed }
  }

  /** Calls and downloaded bytes of `work`. */
  async function cost(work: () => Promise<unknown>): Promise<{ apiCalls: number; getToken: number; downloadBytes: number }> {
    const before = emu.stats()
    await work()
    const after = emu.stats()
    return {
      apiCalls: after.apiCalls - before.apiCalls,
      getToken: (after.calls['download/get_token.cgi'] ?? 0) - (before.calls['download/get_token.cgi'] ?? 0),
      downloadBytes: after.download.bytes - before.download.bytes,
    }
  }

  async function remount(args: string[] = []): Promise<void> {
    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint, args, timeScale: TIME_SCALE })
  }

  function expectTypes(types: string, sniffed: string): void {
    const gio = types.trim().split('\n')
    expect(gio).toHaveLength(PHOTOS)
    expect(gio.filter((line) => line.endsWith('standard::content-type=image/jpeg'))).toHaveLength(JPEGS)
    expect(gio.filter((line) => line.endsWith('standard::content-type=image/png'))).toHaveLength(PNGS)
    const lines = sniffed.trim().split('\n')
    expect(lines.filter((line) => /^img\d+\.jpg: image\/jpeg$/.test(line))).toHaveLength(JPEGS)
    expect(lines.filter((line) => /^shot\d+\.png: image\/png$/.test(line))).toHaveLength(PNGS)
  }

  beforeAll(async () => {
    seed = await tempDir('photos-seed')
    // Two ffmpeg runs make all the pictures (one process per picture would take half a minute).
    await run(`mkdir -p ${seed}/photos && cd ${seed}/photos && ` +
      `ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=320x240:rate=1 -frames:v ${JPEGS} img%03d.jpg && ` +
      `ffmpeg -hide_banner -loglevel error -f lavfi -i mandelbrot=size=160x120:rate=1 -frames:v ${PNGS} shot%03d.png && ` +
      `mkdir -p ${seed}/more && cp img00*.jpg img01*.jpg img02*.jpg img030.jpg ${seed}/more/`, { timeoutMs: 120_000 })
    emu = await startEmulator({ dataDir: await tempDir('photos-emu'), seedDir: seed, timeScale: TIME_SCALE, rateLimits: true })
    cacheDir = await tempDir('photos-cache')
    mount = await mountFichfs(emu, { cacheDir, timeScale: TIME_SCALE })
  })

  afterAll(async () => {
    await stopAllMounts()
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mount.mountpoint]) await removeDir(dir)
    process.stdout.write(`photo folder figures (time scale ${TIME_SCALE}): ${JSON.stringify(figures)}\n`)
  })

  it('cold: one listing, then one get_token per file read (the API gives one link per file)', async () => {
    const { visit, types, sniffed } = await browse(join(mount.mountpoint, 'photos'), 'cold')
    expectTypes(types, sniffed)
    expect(visit.listings).toBe(1)
    expect(visit.getToken).toBe(PHOTOS)
    expect(visit.apiCalls).toBe(1 + PHOTOS)
  })

  it('warm: 0 API calls, 0 bytes downloaded', async () => {
    const { visit, types, sniffed } = await browse(join(mount.mountpoint, 'photos'), 'warm')
    expectTypes(types, sniffed)
    expect(visit.apiCalls).toBe(0)
    expect(visit.downloadBytes).toBe(0)
  })

  it('after a remount: 0 API calls, the heads come from the disk cache', async () => {
    await remount()
    const { visit, types, sniffed } = await browse(join(mount.mountpoint, 'photos'), 'remount')
    expectTypes(types, sniffed)
    expect(visit.apiCalls).toBe(0)
    expect(visit.downloadBytes).toBe(0)
  })

  it('content types come from the listing as the user.mime_type xattr: no read, no call', async () => {
    const folder = join(mount.mountpoint, 'photos')
    let values = ''
    let gio = ''
    const spent = await cost(async () => {
      values = await run(`cd ${folder} && for f in *; do getfattr --only-values -n user.mime_type "$f"; echo; done`)
      gio = await run(`gio info -a xattr::mime_type ${folder}/img001.jpg ${folder}/shot001.png`)
    })
    expect(values.trim().split('\n').sort()).toEqual([...Array(JPEGS).fill('image/jpeg'), ...Array(PNGS).fill('image/png')])
    expect(gio).toContain('xattr::mime_type: image/jpeg')
    expect(gio).toContain('xattr::mime_type: image/png')
    expect(spent).toEqual({ apiCalls: 0, getToken: 0, downloadBytes: 0 })
    // Listed with the others (getfattr -d also reads the description: one file/info, not counted here).
    expect(await run(`getfattr -d ${folder}/img002.jpg`)).toContain('user.mime_type="image/jpeg"')
  })

  it('copying the photos out with cp -a (every xattr too) costs no call once they were read', async () => {
    const out = await tempDir('photos-out')
    const spent = await cost(() => run(`cp -a ${join(mount.mountpoint, 'photos')} ${out}/`))
    expect(await run(`ls ${out}/photos | wc -l`)).toBe(`${PHOTOS}\n`)
    expect(await run(`getfattr --only-values -n user.mime_type ${out}/photos/img001.jpg`)).toBe('image/jpeg')
    await removeDir(out)
    // No file/info for the descriptions nobody asked for.
    expect(spent).toEqual({ apiCalls: 0, getToken: 0, downloadBytes: 0 })
  })

  it('a download link still valid is reused after a remount (kept with its age in the cache)', async () => {
    // No disk tier: the bytes must be fetched again, so only the link can be saved.
    await remount(['--disk-cache', '0'])
    const folder = join(mount.mountpoint, 'more')
    const first = await cost(() => run(`cd ${folder} && file -N --mime-type -- * > /dev/null`))
    expect(first.getToken).toBe(MORE)
    await remount(['--disk-cache', '0'])
    const again = await cost(() => run(`cd ${folder} && file -N --mime-type -- * > /dev/null`))
    expect(again.downloadBytes).toBeGreaterThan(0)
    expect(again.getToken).toBe(0)
    expect(again.apiCalls).toBe(0)
  })

  it('files uploaded through the mount have their heads on disk: a first look costs no call', async () => {
    await remount()
    const folder = join(mount.mountpoint, 'uploaded')
    await run(`cp -r ${seed}/more ${folder}`)
    await waitForUploads(mount)
    const look = await cost(() => run(`cd ${folder} && file -N --mime-type -- *`))
    expect(look).toEqual({ apiCalls: 0, getToken: 0, downloadBytes: 0 })
    await remount()
    const afterRemount = await cost(() => run(`cmp ${folder}/img001.jpg ${seed}/more/img001.jpg && file -N --mime-type -- ${folder}/*`))
    expect(afterRemount).toEqual({ apiCalls: 0, getToken: 0, downloadBytes: 0 })
  })
})
