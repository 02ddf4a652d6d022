/** Where the key may travel with the default endpoint (the real service), host by host. */
import { describe, expect, it } from 'vitest'
import { checkDownloadUrl, trustPolicy, uploadOrigin } from '../../src/client/trust.js'

describe('the default policy: https under 1fichier.com only', () => {
  const policy = trustPolicy(undefined)

  it.each(['up2.1fichier.com', 'UP-7.1FICHIER.COM', '1fichier.com', 'up2.1fichier.com:443'])('uploads to %s over https', (host) => {
    expect(uploadOrigin(host, policy).protocol).toBe('https:')
  })

  it.each([
    '1fichier.com.evil.example', 'evil1fichier.com', 'up2.1fichier.com:8080', 'user@up2.1fichier.com',
    'up2.1fichier.com/path', 'https://up2.1fichier.com', '', 'localhost', '127.0.0.1:80',
  ])('refuses the upload host %j', (host) => {
    expect(() => uploadOrigin(host, policy)).toThrow(expect.objectContaining({ code: 'FICHFS_UNSAFE_HOST' }))
  })

  it.each(['https://a-4.1fichier.com/c123', 'https://1fichier.com/dl/x'])('downloads from %s', (link) => {
    expect(checkDownloadUrl(link, policy).hostname).toMatch(/1fichier\.com$/)
  })

  it.each([
    'http://a-4.1fichier.com/c123', 'https://a-4.1fichier.com.evil.example/c', 'https://user:pw@a-4.1fichier.com/c',
    'https://a-4.1fichier.com:8443/c', 'ftp://a-4.1fichier.com/c', 'not a url',
  ])('refuses the download link %s', (link) => {
    expect(() => checkDownloadUrl(link, policy)).toThrow(expect.objectContaining({ code: 'FICHFS_UNSAFE_HOST' }))
  })

  it('an explicit endpoint (the emulator) adds its own scheme and host:port, nothing else', () => {
    const local = trustPolicy('http://127.0.0.1:4000/v1')
    expect(uploadOrigin('127.0.0.1:4000', local).href).toBe('http://127.0.0.1:4000/')
    expect(() => uploadOrigin('127.0.0.1:4001', local)).toThrow()
    expect(checkDownloadUrl('http://127.0.0.1:4000/dl/x', local).port).toBe('4000')
    expect(() => checkDownloadUrl('https://127.0.0.1:4000/dl/x', local)).toThrow()
    expect(() => trustPolicy('file:///etc/passwd')).toThrow()
  })
})
