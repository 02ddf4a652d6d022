/**
 * The stat client of bench:meta, in its own process (the bench process serves the emulator; a
 * client of a FUSE mount must never share its event loop with a filesystem it depends on).
 *
 *   node dist-bench/scripts/bench/stat-walk.js ROOT --folders 10 --files 1000 [--passes 3]
 *
 * lstat()s ROOT/dNN/fNNNN.bin for every folder and file, `--passes` times, synchronously (one
 * request in flight, as `ls -l` or `rsync` walk a tree), and prints one JSON line:
 * `{passes: [{stats, ms, perSec}], total: {stats, ms, perSec}, bad}` (`bad`: paths whose lstat
 * failed or was not a 1 KiB regular file; any makes the benchmark fail).
 */
import { lstatSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    folders: { type: 'string', default: '10' },
    files: { type: 'string', default: '1000' },
    passes: { type: 'string', default: '3' },
    size: { type: 'string', default: '1024' },
  },
})
const root = positionals[0]
if (!root) throw new Error('usage: stat-walk ROOT --folders N --files N [--passes N]')
const pad = (n: number, width: number) => String(n).padStart(width, '0')
const paths: string[] = []
for (let d = 0; d < Number(opts.folders); d++) {
  for (let f = 0; f < Number(opts.files); f++) paths.push(join(root, `d${pad(d, 2)}`, `f${pad(f, 4)}.bin`))
}
const size = Number(opts.size)
const round = (value: number, digits = 0) => Number(value.toFixed(digits))
const passes: Array<{ stats: number; ms: number; perSec: number }> = []
let bad = 0
for (let pass = 0; pass < Number(opts.passes); pass++) {
  const t0 = performance.now()
  for (const path of paths) {
    try {
      const st = lstatSync(path)
      if (!st.isFile() || st.size !== size) bad++
    } catch {
      bad++
    }
  }
  const ms = performance.now() - t0
  passes.push({ stats: paths.length, ms: round(ms, 1), perSec: round(paths.length / (ms / 1000)) })
}
const totalMs = passes.reduce((sum, pass) => sum + pass.ms, 0)
const totalStats = passes.reduce((sum, pass) => sum + pass.stats, 0)
process.stdout.write(`${JSON.stringify({ passes, total: { stats: totalStats, ms: round(totalMs, 1), perSec: round(totalStats / (totalMs / 1000)) }, bad })}\n`)
