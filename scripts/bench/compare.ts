/**
 * Before/after table: runs one benchmark N times against two daemons, alternating (before,
 * after, before, after, ...) so that a machine whose speed drifts treats both alike, and prints
 * one JSON line with each chosen figure's min / median / max for both.
 *
 *   node --openssl-legacy-provider dist-bench/scripts/bench/compare.js --bench read --runs 5 --before /other/checkout/bin/fichfs.js \
 *       [--field sequential.ratio ...] [-- extra args for the benchmark]
 *
 * "before" runs the benchmark with FICHFS_BENCH_BIN set to --before (another checkout's built
 * daemon); "after" with this checkout's. Both use this checkout's benchmark script, so their
 * JSON lines have the same fields. Each run's whole line is kept in --out (JSON lines).
 */
import { spawn } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { progress } from './harness.js'

const DEFAULT_FIELDS: Record<string, string[]> = {
  read: [
    'sequential.mountMBps', 'sequential.httpMBps', 'sequential.ratio', 'sequential.ceilingMBps', 'sequential.daemonHttpMBps',
    'sequential.ratios.mountToCeiling', 'sequential.ratios.daemonHttpToHttp', 'sequential.daemonCpuMs', 'sequential.downloadAmplification',
    'sequential.cpu.mount.msPerMB', 'sequential.cpu.mount.daemonMsPerMB', 'sequential.cpu.mount.emulatorMsPerMB', 'sequential.cpu.http.msPerMB',
    'sequential.cpu.mountCpuBoundMBps', 'sequential.cpu.neededCpuMsPerMB', 'sequential.cpu.floorMsPerMB', 'sequential.cpu.floorCpuBoundMBps',
    'capped.mountMBps', 'capped.httpMBps', 'capped.ratio', 'capped.connections', 'ttfb.ratio', 'parallel.ratio', 'parallel.downloadAmplification',
    'rssMiB.stream.idleAtMount', 'rssMiB.stream.idle', 'rssMiB.stream.peakAfterStream', 'rssMiB.parallel.idleAtMount', 'rssMiB.parallel.idle', 'rssMiB.parallel.peak',
  ],
  write: ['big.mountMBps', 'big.httpMBps', 'big.ratio', 'big.uploadStartedAfterMs', 'big.ceiling.fuseMBps', 'big.daemonCpuMs', 'rssMiB.big.idleAtMount', 'rssMiB.big.idle', 'rssMiB.big.peak', 'rssMiB.rsync.idle', 'rssMiB.rsync.peak'],
  meta: ['find.ratio', 'stat.mountPerSec', 'stat.ceilingPerSec', 'stat.ratio', 'lsR.mountMs', 'lsR.ceilingMs', 'lsR.ratio'],
}

const { values: opts, positionals: passThrough } = parseArgs({
  allowPositionals: true,
  options: {
    bench: { type: 'string', default: 'read' },
    runs: { type: 'string', default: '5' },
    before: { type: 'string' },
    field: { type: 'string', multiple: true },
    out: { type: 'string' },
  },
})
if (!opts.before) throw new Error('--before /path/to/other/checkout/bin/fichfs.js is required')
const bench = opts.bench as string
const fields = opts.field ?? DEFAULT_FIELDS[bench] ?? []
const script = join(import.meta.dirname, `${bench}.js`)

function runOnce(bin: string | undefined): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env }
    if (bin) env.FICHFS_BENCH_BIN = bin
    else delete env.FICHFS_BENCH_BIN
    // With this process's Node flags: `node --openssl-legacy-provider compare.js` runs the
    // benchmarks as their npm scripts do (the emulator hashing uploads with OpenSSL).
    const child = spawn(process.execPath, [...process.execArgv, script, ...passThrough], { env, stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.on('error', reject)
    child.on('close', () => {
      const line = stdout.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(line) as Record<string, unknown>)
      } catch {
        reject(new Error(`${bench}.js printed no JSON line: ${stdout.slice(-500)}`))
      }
    })
  })
}

function pick(record: unknown, path: string): number | undefined {
  let value: unknown = record
  for (const key of path.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function summary(values: number[]) {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { min: sorted[0], median: Number(median.toFixed(3)), max: sorted[sorted.length - 1], n: values.length }
}

const results: Record<'before' | 'after', Array<Record<string, unknown>>> = { before: [], after: [] }
const runs = Number(opts.runs)
for (let i = 0; i < runs; i++) {
  for (const side of ['before', 'after'] as const) {
    progress(`compare ${bench}: run ${i + 1}/${runs}, ${side}`)
    const line = await runOnce(side === 'before' ? opts.before : undefined)
    if (opts.out) appendFileSync(opts.out, `${JSON.stringify({ side, run: i + 1, line })}\n`)
    if (line.ok === false) progress(`compare ${bench}: ${side} run ${i + 1} failed: ${String(line.error)}`)
    else results[side].push(line)
  }
}

const table: Record<string, unknown> = {}
for (const field of fields) {
  table[field] = {
    before: summary(results.before.map((line) => pick(line, field)).filter((v): v is number => v !== undefined)),
    after: summary(results.after.map((line) => pick(line, field)).filter((v): v is number => v !== undefined)),
  }
}
process.stdout.write(`${JSON.stringify({ bench, runs, before: opts.before, fields: table })}\n`)
