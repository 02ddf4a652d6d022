/**
 * The daemon's own HTTP path without FUSE: the same client (openAccount), block cache and
 * RemoteReader a mount builds (blockCacheFor, readerOptionsFor), reading one file sequentially
 * in 128 KiB requests as the kernel sends them, each copied once into a 128 KiB buffer (the
 * copy the FUSE adapter makes into the kernel's buffer), then dropped. Run as a child process
 * by read.ts, like probe.js, so it shares no event loop with the emulator.
 *
 *   node dist-bench/scripts/bench/reader-path.js --api URL --url FILE_URL --size BYTES --cache-dir DIR
 *       [--time-scale 4] [--memory-cache 40M] [--request 131072] [--inflight 2]
 *
 * `--inflight`: requests kept in flight (the kernel's read-ahead keeps about 2 for one reader).
 * The API key comes from FICHFS_API_KEY. Prints one JSON line: {bytes, ms, MBps, cpuMs, stats}.
 */
import { parseArgs } from 'node:util'
import { openAccount } from '../../src/cli/account.js'
import { parseSize } from '../../src/cli/config.js'
import { youngCollector } from '../../src/cli/settle.js'
import { blockCacheFor, readerOptionsFor, RemoteReader } from '../../src/fs/reader.js'
import { join } from 'node:path'

const { values: opts } = parseArgs({
  options: {
    api: { type: 'string' },
    url: { type: 'string' },
    size: { type: 'string' },
    'cache-dir': { type: 'string' },
    'time-scale': { type: 'string', default: '4' },
    'memory-cache': { type: 'string', default: '40M' },
    'disk-cache': { type: 'string', default: '1G' },
    request: { type: 'string', default: '131072' },
    inflight: { type: 'string', default: '2' },
  },
})
if (!opts.api || !opts.url || !opts.size || !opts['cache-dir']) throw new Error('usage: reader-path --api URL --url FILE_URL --size BYTES --cache-dir DIR')

const size = parseSize(opts.size)
const memoryCache = parseSize(opts['memory-cache'])
const account = openAccount({ apiKey: process.env.FICHFS_API_KEY, endpoint: opts.api, cacheDir: opts['cache-dir'], timeScale: Number(opts['time-scale']) })
const cache = blockCacheFor(memoryCache, join(account.accountDir, 'blocks'), parseSize(opts['disk-cache']))
const reader = new RemoteReader(account.client, cache, readerOptionsFor(memoryCache, undefined, youngCollector()))
const file = { url: opts.url, id: 'benchfile', size }
const stream = reader.newStream()
const request = Number(opts.request)
const inflight = Math.max(1, Number(opts.inflight))
const kernelBuffers = Array.from({ length: inflight }, () => Buffer.allocUnsafe(request))

const cpu0 = process.cpuUsage()
const t0 = performance.now()
let next = 0
let bytes = 0
async function lane(buffer: Buffer): Promise<void> {
  while (next < size) {
    const offset = next
    next += request
    const copied = await reader.read(file, stream, offset, request, (parts) => {
      let at = 0
      for (const part of parts) at += part.copy(buffer, at, 0, Math.min(part.length, request - at))
      return at
    })
    bytes += copied
  }
}
await Promise.all(kernelBuffers.map((buffer) => lane(buffer)))
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
const result = {
  bytes,
  ms: Number(ms.toFixed(1)),
  MBps: Number((bytes / 1e6 / (ms / 1000)).toFixed(1)),
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  reader: { ...reader.stats(), ...account.client.downloadStats() },
  cache: cache.stats(),
}
reader.close()
await cache.flush()
await account.close()
process.stdout.write(`${JSON.stringify(result)}\n`)
