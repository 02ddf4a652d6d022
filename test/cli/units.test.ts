/** The CLI's pure parts: progress display, path mapping, the mount helper's option mapping, the trash's texts. */
import { describe, expect, it } from 'vitest'
import { formatTrash } from '../../src/cli/commands/status.js'
import { parseDuration } from '../../src/cli/config.js'
import { planMount } from '../../src/cli/mount-helper.js'
import { locatePath, mountContaining, normalizeAccountPath, unescapeMountField } from '../../src/cli/paths.js'
import { createProgress, describeAmount, renderBar, type ProgressStream } from '../../src/cli/progress.js'
import { escapeTrashPath, localIsoDate } from '../../src/fs/trash.js'

function fakeStream(isTTY: boolean, columns = 120): ProgressStream & { text: string } {
  const stream = { text: '', isTTY, columns, write: (chunk: string) => (stream.text += chunk) }
  return stream
}

describe('progress display', () => {
  it('draws a bar in place on a terminal, and clears it before other lines', () => {
    let now = 0
    const stream = fakeStream(true)
    const progress = createProgress({ label: 'up', unit: 'bytes', stream, now: () => now })
    progress.update({ done: 512 * 1024, total: 1024 * 1024, detail: '1 file(s) left' })
    expect(stream.text).toBe('\r\x1b[2Kup [############------------] 512.0 KiB of 1.00 MiB (50%) 1 file(s) left')
    now += 10
    progress.update({ done: 1024 * 1024, total: 1024 * 1024 })
    // Within the redraw interval: nothing drawn.
    expect(stream.text.split('\r').length).toBe(2)
    now += 200
    progress.log('a message')
    expect(stream.text.endsWith('\r\x1b[2Ka message\n\r\x1b[2Kup [########################] 1.00 MiB of 1.00 MiB (100%)')).toBe(true)
    progress.finish('done')
    expect(stream.text.endsWith('\r\x1b[2Kdone\n')).toBe(true)
  })

  it('keeps a drawn line within the terminal width', () => {
    const stream = fakeStream(true, 30)
    createProgress({ label: 'a long label that goes on', unit: 'items', stream }).update({ done: 1, total: 3, detail: 'and on and on' })
    expect(stream.text.replace('\r\x1b[2K', '').length).toBe(29)
  })

  it('writes plain lines, at most one per interval, when not on a terminal', () => {
    let now = 0
    const stream = fakeStream(false)
    const progress = createProgress({ label: 'fetch', unit: 'items', stream, plainEveryMs: 1000, now: () => now })
    progress.update({ done: 0, total: 2, detail: '0 s elapsed' })
    now += 500
    progress.update({ done: 1, total: 2 })
    now += 600
    progress.update({ done: 2, total: 2 })
    progress.finish('all there')
    expect(stream.text).toBe('fetch: 0 of 2 (0%), 0 s elapsed\nfetch: 2 of 2 (100%)\nall there\n')
    expect(stream.text).not.toContain('\r')
  })

  it('describes unknown totals without a bar', () => {
    expect(describeAmount({ done: 3 }, 'items')).toBe('3')
    expect(renderBar({ done: 3 })).toBe('')
    expect(describeAmount({ done: 2048, total: 4096 }, 'bytes')).toBe('2.00 KiB of 4.00 KiB (50%)')
  })
})

describe('paths on the command line', () => {
  it('normalizes account paths', () => {
    expect(normalizeAccountPath('')).toBe('/')
    expect(normalizeAccountPath('docs//a.txt/')).toBe('/docs/a.txt')
    expect(normalizeAccountPath('/a/./b/../c')).toBe('/a/c')
    expect(normalizeAccountPath('../..')).toBe('/')
  })

  it('reads /proc/mounts escapes and finds the deepest containing mount', () => {
    expect(unescapeMountField('/home/me/my\\040files')).toBe('/home/me/my files')
    expect(mountContaining('/m/a/b', ['/m', '/m/a'])).toBe('/m/a')
    expect(mountContaining('/m', ['/m'])).toBe('/m')
    expect(mountContaining('/mnt2/x', ['/mnt'])).toBeUndefined()
  })

  it('maps paths inside a mount, leaves account paths alone', async () => {
    const mountpoints = ['/home/me/1fichier']
    expect(await locatePath('/docs/a.txt', { cwd: '/home/me', mountpoints })).toEqual({ accountPath: '/docs/a.txt' })
    expect(await locatePath('docs', { cwd: '/home/me', mountpoints })).toEqual({ accountPath: '/docs' })
    expect((await locatePath('/home/me/1fichier/docs/a.txt', { cwd: '/', mountpoints })).accountPath).toBe('/docs/a.txt')
    expect((await locatePath('a.txt', { cwd: '/home/me/1fichier/docs', mountpoints })).accountPath).toBe('/docs/a.txt')
    expect((await locatePath(undefined, { cwd: '/home/me/1fichier/docs', mountpoints })).accountPath).toBe('/docs')
  })
})

describe('mount.fichfs option mapping', () => {
  it('turns mount options into fichfs flags and ignores fstab-only ones', () => {
    const plan = planMount(['fichfs', '/mnt/x', '-o', 'rw,noauto,nofail,_netdev,x-systemd.automount,ro,allow_other,api_key_file=/k,cache_dir=/c,endpoint=http://h/v1,write_back=5s', '-n'])
    expect(plan.args).toEqual(['mount', '/mnt/x', '--daemon', '--read-only', '--allow-other', '--api-key-file', '/k', '--cache-dir', '/c', '--endpoint', 'http://h/v1', '--write-back', '5s'])
    expect(plan.runAs).toBeUndefined()
  })

  it('takes setuid= as the user to run as, and -s to ignore unknown options', () => {
    const plan = planMount(['fichfs#', '/mnt/x', '-o', 'setuid=alice,weird', '-s', '-t', 'fuse.fichfs'])
    expect(plan.runAs).toBe('alice')
    expect(plan.warnings).toEqual(['ignoring unknown option weird'])
  })

  it('refuses a key as an option, unknown options and sub-folder sources', () => {
    expect(() => planMount(['fichfs', '/m', '-o', 'api_key=abc'])).toThrow(/api_key_file/)
    expect(() => planMount(['fichfs', '/m', '-o', 'weird'])).toThrow(/unknown option weird/)
    expect(() => planMount(['fichfs#/photos', '/m'])).toThrow(/whole account/)
    expect(() => planMount(['/m'])).toThrow(/SOURCE and MOUNTPOINT/)
  })
})

describe('the trash on the command line', () => {
  it('mount.fichfs passes trash_retention= and notrash on', () => {
    expect(planMount(['fichfs', '/m', '-o', 'trash_retention=7d']).args).toEqual(['mount', '/m', '--daemon', '--trash-retention', '7d'])
    expect(planMount(['fichfs', '/m', '-o', 'notrash']).args).toEqual(['mount', '/m', '--daemon', '--no-trash'])
  })

  it('durations take days (--trash-retention 30d, --older-than 2d)', () => {
    expect(parseDuration('30d')).toBe(30 * 86_400_000)
    expect(parseDuration('1.5d')).toBe(36 * 3_600_000)
    expect(() => parseDuration('3w')).toThrow(/not a duration/)
  })

  it('status says what the trash holds, that df counts it, and when it is emptied', () => {
    expect(formatTrash({ entries: 3, bytes: 3 * 1024 * 1024, retentionMs: 30 * 86_400_000 }))
      .toBe('3 item(s), 3.00 MiB (counted in df; `fichfs trash empty` frees it); each deleted for good 30 day(s) after its deletion')
    expect(formatTrash({ entries: 0, bytes: 0, retentionMs: 0 })).toBe('0 item(s), 0 B; kept until emptied')
  })

  it('trash info files escape paths as GLib does, and date deletions in local time', () => {
    expect(escapeTrashPath('Photos/été 2024/a+b #1.jpg')).toBe('Photos/%C3%A9t%C3%A9%202024/a%2Bb%20%231.jpg')
    expect(localIsoDate(new Date(2026, 0, 2, 3, 4, 5))).toBe('2026-01-02T03:04:05')
  })
})
