/**
 * Once per test run: make FUSE connections abortable (fusectl), and at the end take down any
 * mount a failed test left behind, so that no stale mount survives the run.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

// Each run names its temp dirs after itself, so that its teardown never touches the mounts of
// another run going on at the same time on the same machine.
const PREFIX = `fichfs-e2e-${process.pid}-`

declare module 'vitest' {
  export interface ProvidedContext {
    e2ePrefix: string
  }
}

function leftoverMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => (fields[2] ?? '').startsWith('fuse') && (fields[1] ?? '').includes(PREFIX))
    .map((fields) => (fields[1] as string).replace(/\\([0-7]{3})/g, (_all, octal: string) => String.fromCharCode(parseInt(octal, 8))))
}

export function setup(project: TestProject): void {
  project.provide('e2ePrefix', PREFIX)
  if (!existsSync('dist/cli/index.js')) throw new Error('run `npm run build` first (npm test does it)')
  try {
    if (existsSync('/sys/fs/fuse/connections') && readdirSync('/sys/fs/fuse/connections').length === 0) {
      execFileSync('mount', ['-t', 'fusectl', 'none', '/sys/fs/fuse/connections'], { stdio: 'ignore' })
    }
  } catch {
    // Not root or already mounted: aborting stuck connections is a convenience only.
  }
}

export function teardown(): void {
  clearLeftoverMounts()
  // Then this run's temp dirs that a test did not remove (empty mountpoints, mostly).
  if (leftoverMounts().length > 0) return
  for (const name of readdirSync(tmpdir())) {
    if (name.startsWith(PREFIX)) rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
}

function clearLeftoverMounts(): void {
  for (const mountpoint of leftoverMounts()) {
    process.stderr.write(`global teardown: clearing leftover mount ${mountpoint}\n`)
    try {
      execFileSync('fusermount', ['-uz', '--', mountpoint], { stdio: 'ignore' })
    } catch {
      try {
        execFileSync('umount', ['-l', '--', mountpoint], { stdio: 'ignore' })
      } catch {
        // Reported above; nothing more to do.
      }
    }
  }
}
