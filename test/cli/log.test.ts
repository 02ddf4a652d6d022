/** The logger removes the key itself, whatever path it took into a record. */
import { expect, it } from 'vitest'
import { registerSecret, scrubSecrets } from '../../src/log.js'
import { captureLog } from '../support/client.js'

const KEY = 'LogKeyLogKeyLogKeyLogKeyLogKey12'

it('redacts a registered key in messages, errors and fields, and authorization headers by path', () => {
  registerSecret(KEY)
  const log = captureLog('debug')
  log.logger.info(`calling with ${KEY}`)
  log.logger.warn({ err: new Error(`the server echoed ${KEY}`).message, nested: { deep: [KEY] } }, 'echo')
  log.logger.debug({ headers: { authorization: 'Bearer other-secret-value' }, authorization: 'Bearer again' }, 'request')
  const text = log.text()
  expect(text.split('\n').filter(Boolean)).toHaveLength(3)
  expect(text).not.toContain(KEY)
  expect(text).not.toContain('other-secret-value')
  expect(text).not.toContain('Bearer again')
  expect(text.match(/\[REDACTED\]/g)?.length).toBe(5)
  expect(scrubSecrets(`a ${KEY} b`)).toBe('a [REDACTED] b')
  // Short strings are not taken as secrets (they would redact ordinary words).
  registerSecret('abc')
  expect(scrubSecrets('abc')).toBe('abc')
})
