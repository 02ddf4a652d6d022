/**
 * serveUntilStopped announces "is mounted" only once SIGTERM and SIGINT are handled: a
 * supervisor (a test, systemd) that stops the mount the moment it reads the line must reach the
 * handler (finish uploads, unmount), not SIGTERM's default action, which killed the daemon.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { serveUntilStopped } from '../../src/cli/commands/mount.js'
import type { MountService } from '../../src/cli/mount-service.js'

afterEach(() => vi.restoreAllMocks())

describe('serveUntilStopped', () => {
  it('handles SIGTERM and SIGINT before it says the mount is up, and lets go after', async () => {
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') }
    let atAnnouncement: { term: number; int: number } | undefined
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      if (String(chunk).includes('is mounted')) atAnnouncement = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') }
      return true
    })
    let stop!: () => void
    const service = { mountpoint: '/mnt/x', stopped: new Promise<void>((resolve) => (stop = resolve)) } as unknown as MountService
    // This test runs in a worker whose IPC channel is vitest's: not the daemon's parent to tell.
    const send = process.send
    process.send = undefined
    const serving = serveUntilStopped(service)
    process.send = send
    expect(atAnnouncement).toEqual({ term: before.term + 1, int: before.int + 1 })
    stop()
    await serving
    expect({ term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') }).toEqual(before)
  })
})
