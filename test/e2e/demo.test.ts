/**
 * `fichfs demo`: the no-account default mounts a seeded demo account and keeps what you copy in.
 */
import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { BIN, isMounted, removeDir, run, tempDir } from '../support/mount.js'

async function startDemo(mountpoint: string, cacheDir: string): Promise<{ stop(): Promise<number | null>; output(): string }> {
  const child = spawn(process.execPath, [BIN, 'demo', mountpoint, '--cache-dir', cacheDir, '--time-scale', '10'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const started = Date.now()
  while (!output.includes('is mounted')) {
    if (child.exitCode !== null || Date.now() - started > 30_000) {
      child.kill('SIGKILL')
      throw new Error(`demo did not start:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM')
      return exited
    },
  }
}

describe('fichfs demo', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await removeDir(dir)
  })

  it('mounts a seeded demo account, plays its video, and keeps what is copied in', async () => {
    const mountpoint = await tempDir('demo-mnt')
    const cacheDir = await tempDir('demo-cache')
    dirs.push(mountpoint, cacheDir)
    let demo = await startDemo(mountpoint, cacheDir)
    try {
      expect(demo.output()).toContain('try:')
      expect(await run(`ls ${mountpoint}`)).toBe('Documents\nPictures\nVideos\n')
      const duration = Number(await run(`ffprobe -v error -show_entries format=duration -of csv=p=0 ${mountpoint}/Videos/test-pattern.mp4`))
      expect(duration).toBeCloseTo(8, 0)
      await run(`echo 'my note' > ${mountpoint}/Documents/mine.txt`)
    } finally {
      expect(await demo.stop()).toBe(0)
    }
    expect(isMounted(mountpoint)).toBe(false)
    demo = await startDemo(mountpoint, cacheDir)
    try {
      expect(await run(`cat ${mountpoint}/Documents/mine.txt`)).toBe('my note\n')
    } finally {
      expect(await demo.stop()).toBe(0)
    }
  })
})
