/**
 * The emulator survives any client behaviour: an upload whose connection is reset in the
 * middle of a part (before, while and after busboy hands the part over) is dropped, leaves no
 * temp file, and the next upload works.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleep, startTestEmulator, uploadOne, uploadServer, type TestEmulator } from './helpers.js'

let t: TestEmulator
const crashes: unknown[] = []
const onCrash = (error: unknown) => crashes.push(error)

beforeAll(async () => {
  t = await startTestEmulator()
  process.on('uncaughtException', onCrash)
})
afterAll(async () => {
  process.off('uncaughtException', onCrash)
  await t.dispose()
})

/** Send an upload's headers and the start of its part (`partBytes` of it), then reset. */
async function resetMidPart(partBytes: number, pauseMs: number): Promise<void> {
  const { id } = await uploadServer(t.emu)
  const boundary = 'fichfsResetTest'
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file[]"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
  const declared = head.length + 1_000_000 + 100
  const [host, port] = t.emu.uploadHost.split(':') as [string, string]
  await new Promise<void>((resolve) => {
    const socket = connect(Number(port), host, () => {
      socket.write(`POST /upload.cgi?id=${id} HTTP/1.1\r\nHost: ${t.emu.uploadHost}\r\nAuthorization: Bearer ${t.emu.apiKey}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${declared}\r\n\r\n`)
      socket.write(Buffer.concat([head, randomBytes(partBytes)]))
      setTimeout(() => {
        socket.resetAndDestroy()
        resolve()
      }, pauseMs)
    })
    socket.on('error', () => undefined)
  })
}

describe('an upload reset in the middle of a part', () => {
  it('does not crash the emulator, leaves no temp file, and the next upload works', async () => {
    for (const [partBytes, pauseMs] of [[0, 0], [10, 0], [100_000, 0], [100_000, 20], [500_000, 50]] as const) {
      for (let round = 0; round < 3; round++) await resetMidPart(partBytes, pauseMs)
    }
    // The emulator notices a reset when the socket's close reaches it, which under a loaded
    // test run can take longer than a fixed pause: wait (bounded) for the temp dir to empty.
    const tmp = join(t.dataDir, 'tmp')
    for (let waited = 0; readdirSync(tmp).length > 0 && waited < 10_000; waited += 50) await sleep(50)
    expect(crashes.map((error) => String((error as Error).stack ?? error))).toEqual([])
    expect(readdirSync(tmp)).toEqual([])
    const link = await uploadOne(t.emu, 'after.txt', 'still alive\n')
    expect(link.size).toBe('12')
    expect(t.emu.tree().filter((entry) => entry.type === 'file').map((entry) => entry.path)).toEqual(['/after.txt'])
  })
})
