import { describe, expect, it } from 'vitest'
import { formatApiDate } from '../../src/emulator/dates.js'
import { fileUrl, newDownloadToken, newFileId, newUploadId, parseFileUrl } from '../../src/emulator/ids.js'
import { contentTypeFor, nameProblem } from '../../src/emulator/names.js'
import { Prng } from '../../src/emulator/prng.js'
import { parseRange } from '../../src/emulator/range.js'
import { remoteFileName } from '../../src/emulator/remote.js'
import { validateFaults } from '../../src/emulator/faults.js'

describe('dates', () => {
  it('prints Paris local time, CET in winter and CEST in summer', () => {
    expect(formatApiDate(Date.UTC(2024, 0, 15, 12, 0, 0))).toBe('2024-01-15 13:00:00')
    expect(formatApiDate(Date.UTC(2024, 6, 1, 22, 5, 6))).toBe('2024-07-02 00:05:06')
  })
})

describe('ids and URLs', () => {
  it('makes ids of the documented shapes', () => {
    expect(newFileId()).toMatch(/^[a-z0-9]{10}$/)
    expect(newUploadId()).toMatch(/^[A-Za-z0-9]{10}$/)
    expect(newDownloadToken()).toMatch(/^[a-z]\d{10}$/)
    expect(fileUrl('abcde12345')).toBe('https://1fichier.com/?abcde12345')
  })

  it('parses every accepted URL form', () => {
    for (const url of [
      'https://1fichier.com/?abcde12345',
      'http://1fichier.com/?abcde12345',
      'https://www.1fichier.com/?abcde12345',
      'https://1fichier.com/?abcde12345&af=42',
      'https://abcde12345.1fichier.com/',
      'https://abcde12345.1fichier.com',
    ]) expect(parseFileUrl(url), url).toBe('abcde12345')
    for (const url of ['https://example.com/?abcde12345', 'https://1fichier.com/?ABC', 'abcde12345', 'https://1fichier.com/dir/abcde12345']) {
      expect(parseFileUrl(url), url).toBeUndefined()
    }
  })
})

describe('names', () => {
  it('refuses what the service refuses', () => {
    for (const bad of ['', ' lead', 'a"b', "a'b", 'a<b', 'a>b', 'a$b', 'a\\b', 'a`b', 'a/b', 'a\u0000b', 'a\nb', 'a\u007fb']) {
      expect(nameProblem(bad, 'file'), JSON.stringify(bad)).toBeDefined()
    }
    expect(nameProblem('x'.repeat(250), 'folder')).toBeUndefined()
    expect(nameProblem('x'.repeat(251), 'folder')).toBeDefined()
    expect(nameProblem('é'.repeat(127), 'file')).toBeUndefined() // 254 bytes
    expect(nameProblem('é'.repeat(128), 'file')).toBeDefined() // 256 bytes
    expect(nameProblem('trailing space ', 'file')).toBeUndefined()
    expect(nameProblem('ünïcødé & co.txt', 'file')).toBeUndefined()
  })

  it('guesses content types from the extension', () => {
    expect(contentTypeFor('a.TXT')).toBe('text/plain')
    expect(contentTypeFor('movie.mkv')).toBe('video/x-matroska')
    expect(contentTypeFor('noext')).toBe('application/octet-stream')
  })
})

describe('parseRange', () => {
  it('reads the single-range forms', () => {
    expect(parseRange(undefined, 100)).toBeUndefined()
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-1000', 100)).toEqual({ start: 0, end: 99 })
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 })
  })

  it('tells unsatisfiable from ignorable', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=100-200', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=5-1', 100)).toBeUndefined()
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined()
    expect(parseRange('items=0-1', 100)).toBeUndefined()
    expect(parseRange('bytes=-', 100)).toBeUndefined()
  })
})

describe('remote file names', () => {
  it('prefers Content-Disposition, then the last path segment', () => {
    expect(remoteFileName(`attachment; filename*=UTF-8''caf%C3%A9.txt`, 'http://h/x')).toBe('café.txt')
    expect(remoteFileName('attachment; filename="a b.txt"', 'http://h/x')).toBe('a b.txt')
    expect(remoteFileName('attachment; filename=plain.bin', 'http://h/x')).toBe('plain.bin')
    expect(remoteFileName(null, 'http://h/dir/some%20file.zip?q=1')).toBe('some file.zip')
    expect(remoteFileName(null, 'http://h/')).toBeUndefined()
  })
})

describe('faults', () => {
  it('replays the same dice for the same seed', () => {
    const a = new Prng(7)
    const b = new Prng(7)
    const run = (prng: Prng) => Array.from({ length: 20 }, () => prng.next())
    expect(run(a)).toEqual(run(b))
    expect(run(new Prng(8))).not.toEqual(run(new Prng(7)))
  })

  it('validates partial fault sets', () => {
    expect(validateFaults({ errorRate: 0.5, floodNext: 2.7 })).toEqual({ errorRate: 0.5, floodNext: 2 })
    expect(() => validateFaults({ errorRate: 2 })).toThrow(/errorRate/)
    expect(() => validateFaults({ latencyMs: -1 })).toThrow(/latencyMs/)
    expect(() => validateFaults({ nonsense: 1 })).toThrow(/unknown/)
  })
})
