/**
 * Finding a mount's backing device in mountinfo (kernel-read-ahead.ts): the last mount on the
 * path wins (a mount over a stale one), and paths come back from mountinfo's octal escapes.
 */
import { describe, expect, it } from 'vitest'
import { mountDevice } from '../../src/fs/kernel-read-ahead.js'

const MOUNTINFO = [
  '22 1 0:21 / / rw,relatime - overlay overlay rw',
  '46 22 0:41 / /tmp/mnt rw,nosuid,nodev,relatime - fuse.fichfs fichfs rw,user_id=0,group_id=0',
  '47 22 0:42 / /tmp/my\\040mount\\134x rw,nosuid,nodev - fuse.fichfs fichfs rw',
  '48 46 0:43 / /tmp/mnt rw,nosuid,nodev,relatime - fuse.fichfs fichfs rw,user_id=0,group_id=0',
  '',
].join('\n')

describe('mountDevice', () => {
  it('finds the last mount on a path, with escaped characters', () => {
    expect(mountDevice(MOUNTINFO, '/tmp/mnt')).toBe('0:43')
    expect(mountDevice(MOUNTINFO, '/tmp/my mount\\x')).toBe('0:42')
  })

  it('knows nothing of a path that is not mounted, nor of a prefix of one', () => {
    expect(mountDevice(MOUNTINFO, '/tmp/other')).toBeUndefined()
    expect(mountDevice(MOUNTINFO, '/tmp')).toBeUndefined()
  })
})
