/** Node flags come from bin/fichfs.js's shebang, for every way of starting the daemon. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FICHFS_BIN, fichfsCommand, nodeFlagsOf, parseShebangFlags } from '../../src/cli/launcher.js'
import { commandFor } from '../../src/cli/mount-helper.js'

describe('launcher', () => {
  it('parses the Node flags of a shebang line', () => {
    expect(parseShebangFlags('#!/usr/bin/env -S node --openssl-legacy-provider --max-semi-space-size=2')).toEqual(['--openssl-legacy-provider', '--max-semi-space-size=2'])
    expect(parseShebangFlags('#!/usr/bin/env node')).toEqual([])
    expect(parseShebangFlags('#!/usr/local/bin/node --expose-gc')).toEqual(['--expose-gc'])
    expect(parseShebangFlags('#!/usr/bin/env -S  node   --a  --b=1  ')).toEqual(['--a', '--b=1'])
    // Words after the first non-flag are the script's, not Node's.
    expect(parseShebangFlags('#!/usr/bin/env -S node --a script.js --b')).toEqual(['--a'])
    expect(parseShebangFlags('// no shebang')).toEqual([])
    expect(parseShebangFlags('#!/bin/sh')).toEqual([])
  })

  it("reads bin/fichfs.js's own shebang, and every launcher passes those flags", () => {
    const first = readFileSync(FICHFS_BIN, 'utf8').split('\n')[0] as string
    expect(first.startsWith('#!/usr/bin/env -S node ')).toBe(true)
    const flags = nodeFlagsOf()
    expect(flags).toContain('--openssl-legacy-provider')
    expect(flags.some((flag) => flag.startsWith('--max-semi-space-size='))).toBe(true)
    expect(flags).toContain('--v8-pool-size=1')
    expect(fichfsCommand(['mount', '/mnt'])).toEqual([process.execPath, [...flags, FICHFS_BIN, 'mount', '/mnt']])
    // mount.fichfs (fstab), as root and through runuser.
    const plan = { mountpoint: '/mnt', args: ['mount', '/mnt'], fake: false, verbose: false, warnings: [] }
    expect(commandFor(plan)).toEqual({ file: process.execPath, args: [...flags, FICHFS_BIN, 'mount', '/mnt'] })
    expect(commandFor({ ...plan, runAs: 'alice' })).toEqual({ file: 'runuser', args: ['-u', 'alice', '--', process.execPath, ...flags, FICHFS_BIN, 'mount', '/mnt'] })
    expect(nodeFlagsOf('/nonexistent/file.js')).toEqual([])
  })
})
