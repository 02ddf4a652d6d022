import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import type { Emulator } from '../../emulator/index.js'

export interface EmulatorCommandArgs {
  port: number
  host: string
  dataDir?: string
  timeScale: number
  rateLimits: boolean
  floodLockMs: number
  uploadHost?: string
  downloadBase?: string
  quota?: number
  seed?: string
  latencyMs: number
  bandwidth: number
  errorRate: number
  resetRate: number
  endHtmlRate: number
  uploadResetRate: number
  lostAnswerRate: number
  floodNext: number
  faultSeed?: number
}

/** What `runEmulator` talks to; tests replace the process's stdout and signals. */
export interface EmulatorCommandIo {
  stdout: { write(text: string): unknown }
  /** Resolves when the emulator should stop (default: SIGINT or SIGTERM). */
  stopRequested: Promise<unknown>
}

export const emulatorCommand: CommandModule<object, EmulatorCommandArgs> = {
  command: 'emulator',
  describe: 'Run a local 1fichier emulator (API, upload node and download host on one port)',
  builder: (yargs) =>
    yargs
      .option('port', { type: 'number', default: 0, describe: 'Port to listen on (0 = a free one)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('data-dir', { type: 'string', describe: 'Account storage (default: a fresh temp dir)' })
      .option('time-scale', { type: 'number', default: 1, describe: 'Divide every window, lock and expiry by this' })
      .option('rate-limits', { type: 'boolean', default: true, describe: 'Enforce the flood rules (--no-rate-limits to disable)' })
      .option('flood-lock-ms', { type: 'number', default: 60_000, describe: 'Lock duration after a flood, before scaling' })
      .option('upload-host', { type: 'string', describe: 'host[:port] returned by get_upload_server' })
      .option('download-base', { type: 'string', describe: 'scheme://host[:port] of download token URLs' })
      .option('quota', { type: 'number', describe: 'Account size in bytes (default 100 GiB)' })
      .option('seed', { type: 'string', describe: 'Upload this local directory into the account at start' })
      .option('latency-ms', { type: 'number', default: 0, describe: 'Delay added to every request' })
      .option('bandwidth', { type: 'number', default: 0, describe: 'Upload/download body cap in bytes/s (0 = none)' })
      .option('error-rate', { type: 'number', default: 0, describe: 'Share (0..1) of requests answered 5xx' })
      .option('reset-rate', { type: 'number', default: 0, describe: 'Share (0..1) of downloads cut mid-body' })
      .option('end-html-rate', { type: 'number', default: 0, describe: 'Share (0..1) of end.pl answers sent as HTML' })
      .option('upload-reset-rate', { type: 'number', default: 0, describe: 'Share (0..1) of uploads cut mid-body (nothing stored)' })
      .option('lost-answer-rate', { type: 'number', default: 0, describe: 'Share (0..1) of uploads stored whose answer is lost (connection cut)' })
      .option('flood-next', { type: 'number', default: 0, describe: 'Answer the next N API calls with the flood 403 (and lock the caller)' })
      .option('fault-seed', { type: 'number', describe: 'Seed of the fault dice, to replay a run' }) as unknown as Argv<EmulatorCommandArgs>,
  handler: async (args) => {
    await runEmulator(args)
  },
}

/** Start, print one JSON line with the coordinates, run until asked to stop, close. */
export async function runEmulator(args: EmulatorCommandArgs, io: EmulatorCommandIo = processIo()): Promise<Emulator> {
  const dataDir = args.dataDir ?? (await mkdtemp(join(tmpdir(), 'fichfs-emulator-')))
  // Loaded on use: a mount daemon never needs the emulator's code in memory.
  const { startEmulator } = await import('../../emulator/index.js')
  const emulator = await startEmulator({
    dataDir,
    port: args.port,
    host: args.host,
    timeScale: args.timeScale,
    rateLimits: args.rateLimits,
    floodLockMs: args.floodLockMs,
    uploadHost: args.uploadHost,
    downloadBase: args.downloadBase,
    quotaBytes: args.quota,
    seedDir: args.seed,
    faultSeed: args.faultSeed,
    faults: {
      latencyMs: args.latencyMs,
      bandwidthBytesPerSec: args.bandwidth,
      errorRate: args.errorRate,
      resetRate: args.resetRate,
      endHtmlRate: args.endHtmlRate,
      uploadResetRate: args.uploadResetRate,
      lostAnswerRate: args.lostAnswerRate,
      floodNext: args.floodNext,
    },
  })
  const ready = {
    api: emulator.apiBase,
    apiKey: emulator.apiKey,
    port: emulator.port,
    admin: emulator.adminBase,
    dataDir: emulator.dataDir,
    uploadHost: emulator.uploadHost,
  }
  io.stdout.write(`${JSON.stringify(ready)}\n`)
  await io.stopRequested
  await emulator.close()
  return emulator
}

function processIo(): EmulatorCommandIo {
  return {
    stdout: process.stdout,
    stopRequested: new Promise((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    }),
  }
}
