/**
 * Media players through the mount: ffprobe of an MP4 whose moov atom is at the end (the
 * player reads the head, then seeks to the tail), seeking into the middle with ffmpeg -ss, and
 * the head and tail coming from cache on the next open, even after a remount.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../../src/emulator/index.js'
import { expectNoFloods } from '../support/checks.js'
import { mountFichfs, removeDir, run, stopAllMounts, tempDir, type TestMount } from '../support/mount.js'

describe('media through the mount', () => {
  let seed: string
  let emu: Emulator
  let cacheDir: string
  let mount: TestMount

  beforeAll(async () => {
    seed = await tempDir('media-seed')
    await run(`mkdir -p ${seed}/videos ${seed}/pictures && cd ${seed} && ` +
      'ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=duration=30:size=640x360:rate=25 -f lavfi -i sine=frequency=440:duration=30 ' +
      '-c:v libx264 -b:v 4M -minrate 4M -maxrate 4M -bufsize 1M -x264-params nal-hrd=cbr -pix_fmt yuv420p -c:a aac -shortest videos/clip.mp4 && ' +
      'ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=800x600 -frames:v 1 pictures/test.jpg', { timeoutMs: 120_000 })
    const layout = await run(`python3 -c "d=open('${seed}/videos/clip.mp4','rb').read(); print(d.find(b'moov') > d.find(b'mdat'))"`)
    expect(layout.trim()).toBe('True')
    emu = await startEmulator({ dataDir: await tempDir('media-emu'), seedDir: seed, timeScale: 10 })
    cacheDir = await tempDir('media-cache')
    mount = await mountFichfs(emu, { cacheDir })
  })

  afterAll(async () => {
    await stopAllMounts()
    // No flood met, and no libfuse hidden name (.fuse_hidden…) ever reached 1fichier.
    expectNoFloods(emu)
    await emu.close()
    for (const dir of [seed, emu.dataDir, cacheDir, mount.mountpoint]) await removeDir(dir)
  })

  it('ffprobe reports the right duration (moov at the end)', async () => {
    const duration = Number(await run(`ffprobe -v error -show_entries format=duration -of csv=p=0 ${join(mount.mountpoint, 'videos/clip.mp4')}`))
    expect(duration).toBeCloseTo(30, 0)
    const picture = await run(`ffprobe -v error -show_entries stream=width,height -of csv=p=0 ${join(mount.mountpoint, 'pictures/test.jpg')}`)
    expect(picture.trim()).toBe('800,600')
  })

  it('ffmpeg -ss seeks and decodes frames from the middle', async () => {
    const result = await run(`ffmpeg -hide_banner -nostats -ss 15 -i ${join(mount.mountpoint, 'videos/clip.mp4')} -frames:v 5 -f framemd5 - 2>/dev/null`)
    const frames = result.split('\n').filter((line) => /^0,/.test(line))
    expect(frames).toHaveLength(5)
    // The same frames as decoded from the original file.
    const original = await run(`ffmpeg -hide_banner -nostats -ss 15 -i ${join(seed, 'videos/clip.mp4')} -frames:v 5 -f framemd5 - 2>/dev/null`)
    expect(frames).toEqual(original.split('\n').filter((line) => /^0,/.test(line)))
  })

  it('the head and tail a player probes come from cache on the next open, even after a remount', async () => {
    const clip = join(mount.mountpoint, 'videos/clip.mp4')
    await run(`ffprobe -v error -show_entries format=duration ${clip}`)
    let before = emu.stats().download.bytes
    await run(`ffprobe -v error -show_entries format=duration ${clip}`)
    expect(emu.stats().download.bytes - before).toBe(0)

    await mount.stop()
    mount = await mountFichfs(emu, { cacheDir, mountpoint: mount.mountpoint })
    before = emu.stats().download.bytes
    const tokens = emu.stats().calls['download/get_token.cgi'] ?? 0
    const duration = Number(await run(`ffprobe -v error -show_entries format=duration -of csv=p=0 ${clip}`))
    expect(duration).toBeCloseTo(30, 0)
    expect(emu.stats().download.bytes - before).toBe(0)
    expect(emu.stats().calls['download/get_token.cgi'] ?? 0).toBe(tokens)
  })
})
