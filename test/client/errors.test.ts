/**
 * Every answer the API doc lists, turned into an error code, an errno and a retry decision:
 * floods cool down, transient failures retry, final answers fail at once.
 */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { FichierClient } from '../../src/client/fichier-client.js'
import { errorFromAnswer } from '../../src/client/errors.js'
import { classify } from '../../src/client/retry.js'

const cases: Array<[status: number, message: string | undefined, code: string, errno: string | undefined, decision: string]> = [
  [403, 'Flood detected: IP Locked #374', 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [403, 'Flood detected: User Locked #412', 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [403, 'Flood detected #223', 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [403, 'Flood detected: IP Locked #38', 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [403, 'Flood detected', 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [403, undefined, 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [429, undefined, 'FICHFS_FLOOD', 'EAGAIN', 'flood'],
  [401, 'Not authenticated #247', 'FICHFS_AUTH', 'EACCES', 'fail'],
  [200, 'No such user #93', 'FICHFS_NO_SUCH_USER', 'EACCES', 'fail'],
  [200, 'Must be a customer (Premium, Access) #236', 'FICHFS_PREMIUM_REQUIRED', 'EACCES', 'fail'],
  [403, 'Must be a customer #200', 'FICHFS_PREMIUM_REQUIRED', 'EACCES', 'fail'],
  [404, 'Resource not found #469', 'FICHFS_NOT_FOUND', 'ENOENT', 'fail'],
  [200, 'Nothing renamed #312', 'FICHFS_NOTHING_RENAMED', 'EINVAL', 'fail'],
  [500, 'Internal error', 'FICHFS_HTTP', undefined, 'retry'],
  [503, undefined, 'FICHFS_HTTP', undefined, 'retry'],
  [400, 'Bad request', 'FICHFS_HTTP', undefined, 'fail'],
]

describe('answers of the API', () => {
  it.each(cases)('HTTP %i %s -> %s (%s), %s', (status, message, code, errno, decision) => {
    const error = errorFromAnswer('x', status, message)
    expect(error.code).toBe(code)
    if (errno) expect(error.errno).toBe(errno)
    expect(classify(error)).toBe(decision)
  })
})

describe('uploads the service would refuse are refused before any request', () => {
  const client = new FichierClient({ apiKey: 'NoRequestNoRequestNoRequest12345', endpoint: 'http://127.0.0.1:9/v1' })
  const file = (name: string, size: number) => ({ name, size, open: () => Readable.from([]) })

  it.each([
    ['501 files in one request', Array.from({ length: 501 }, (_, i) => file(`f${i}`, 1)), 'FICHFS_TOO_LARGE', 'EINVAL'],
    ['a file over 300 GB', [file('huge', 300 * 1024 ** 3 + 1)], 'FICHFS_TOO_LARGE', 'EFBIG'],
    ['an empty file', [file('empty', 0)], 'FICHFS_UPLOAD_FAILED', 'EINVAL'],
    ['no file at all', [], 'FICHFS_UPLOAD_FAILED', 'EINVAL'],
  ])('%s', async (_label, sources, code, errno) => {
    await expect(client.upload(0, sources)).rejects.toMatchObject({ code, errno })
    expect(client.pacer.stats().calls).toBe(0)
  })
})
