/**
 * The daemon's own upload path without FUSE: the client a mount builds (openAccount) sends one
 * file from the local disk, as the uploader sends a spool file (a 1 MiB read stream, its
 * Whirlpool computed beside the upload in a worker, checked against end.pl's report). Run as a
 * child process by write.ts, like probe.js, so it shares no event loop with the emulator.
 *
 *   node dist-bench/scripts/bench/upload-path.js --api URL --file PATH --name NAME --cache-dir DIR [--time-scale 4]
 *
 * The API key comes from FICHFS_API_KEY. Prints one JSON line: {bytes, ms, MBps, cpuMs, hashed}.
 */
import { createReadStream, statSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { openAccount } from '../../src/cli/account.js'

const { values: opts } = parseArgs({
  options: {
    api: { type: 'string' },
    file: { type: 'string' },
    name: { type: 'string' },
    'cache-dir': { type: 'string' },
    'time-scale': { type: 'string', default: '4' },
  },
})
if (!opts.api || !opts.file || !opts.name || !opts['cache-dir']) throw new Error('usage: upload-path --api URL --file PATH --name NAME --cache-dir DIR')

const path = opts.file
const size = statSync(path).size
const account = openAccount({ apiKey: process.env.FICHFS_API_KEY, endpoint: opts.api, cacheDir: opts['cache-dir'], timeScale: Number(opts['time-scale']) })
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const result = await account.client.upload(0, [{ name: opts.name, size, path, open: () => createReadStream(path, { highWaterMark: 1 << 20 }) }])
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
const uploaded = result.uploaded[0]
if (!uploaded || uploaded.size !== size) throw new Error(`upload-path: the upload was not confirmed: ${JSON.stringify(result)}`)
await account.close()
process.stdout.write(`${JSON.stringify({
  bytes: size,
  ms: Number(ms.toFixed(1)),
  MBps: Number((size / 1e6 / (ms / 1000)).toFixed(1)),
  // The process's CPU, its hashing worker included.
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  hashed: uploaded.confirmedByService,
})}\n`)
