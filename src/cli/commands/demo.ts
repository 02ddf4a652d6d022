/**
 * `fichfs demo [MOUNTPOINT]`: the embedded default for people without an account yet. Starts
 * the emulator (real rate limits, a demo account seeded with folders, pictures and a video)
 * and mounts it, in this one process, in the foreground. The demo account lives under the
 * cache dir, so what you copy in is still there next time.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CommandModule } from 'yargs'
import { registerSecret } from '../../log.js'
import { defaultCacheDir, parseDuration } from '../config.js'
import { startMount } from '../mount-service.js'
import { makeLogger, serveUntilStopped } from './mount.js'

interface DemoArgs {
  mountpoint?: string
  'data-dir'?: string
  'cache-dir'?: string
  'time-scale': number
  verbose: number
}

const ASSETS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../assets/demo')

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo [mountpoint]',
  describe: 'Mount a demo account served by the built-in 1fichier emulator (no account needed)',
  builder: (yargs) => yargs
    .positional('mountpoint', { type: 'string', describe: 'Where to mount (default ~/fichfs-demo)' })
    .option('data-dir', { type: 'string', describe: 'Where the demo account keeps its files (default: under the cache dir)' })
    .option('cache-dir', { type: 'string', describe: `fichfs cache (default ${defaultCacheDir()})` })
    .option('time-scale', { type: 'number', default: 1, hidden: true })
    .option('verbose', { alias: 'v', type: 'count' }),
  handler: async (args) => {
    const mountpoint = resolve(args.mountpoint ?? join(homedir(), 'fichfs-demo'))
    const cacheDir = args['cache-dir'] ?? defaultCacheDir()
    const dataDir = args['data-dir'] ?? join(cacheDir, 'demo-account')
    const fresh = !existsSync(join(dataDir, 'emulator.sqlite'))
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const { startEmulator } = await import('../../emulator/index.js')
    const emulator = await startEmulator({
      dataDir,
      timeScale: args['time-scale'],
      email: 'demo@fichfs.invalid',
      seedDir: fresh ? ASSETS : undefined,
    })
    registerSecret(emulator.apiKey)
    const log = makeLogger({ verbose: args.verbose })
    try {
      const service = await startMount({
        mountpoint,
        apiKey: emulator.apiKey,
        endpoint: emulator.apiBase,
        cacheDir,
        readOnly: false,
        allowOther: false,
        dirCacheTimeMs: parseDuration('5m'),
        writeBackMs: parseDuration('2s'),
        memoryCacheBytes: 40 << 20,
        diskCacheBytes: 256 << 20,
        timeScale: args['time-scale'],
      }, log)
      process.stderr.write(
        `fichfs demo: a demo 1fichier account (local emulator at ${emulator.apiBase}) is mounted on ${mountpoint}\n` +
        `  try:  ls -lR ${mountpoint}\n` +
        `        ffprobe ${join(mountpoint, 'Videos/test-pattern.mp4')}\n` +
        `        cp -r /etc/default ${mountpoint}/Documents/   (uploads after close)\n`,
      )
      await serveUntilStopped(service)
    } finally {
      await emulator.close()
    }
  },
}
