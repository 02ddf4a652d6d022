/**
 * A FichierClient wired to a test emulator, with pacer timings scaled like the emulator's.
 * Logs are captured in memory so tests can check that the key never shows.
 */
import { Writable } from 'node:stream'
import { FichierClient, type FichierClientOptions } from '../../src/client/fichier-client.js'
import { DEFAULT_PACER_OPTIONS, Pacer, scalePacerOptions, type PacerOptions } from '../../src/client/pacer.js'
import type { Emulator } from '../../src/emulator/index.js'
import { createLogger, registerSecret, type Logger } from '../../src/log.js'

export interface CapturedLog {
  logger: Logger
  text(): string
}

export function captureLog(level = 'debug'): CapturedLog {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { logger: createLogger({ level, destination: destination as never }), text: () => lines.join('') }
}

export function testClient(emu: Emulator, options: { timeScale?: number; pacer?: Partial<PacerOptions>; client?: Partial<FichierClientOptions>; log?: Logger } = {}): FichierClient {
  registerSecret(emu.apiKey)
  const scale = options.timeScale ?? 1000
  const pacer = new Pacer({ ...scalePacerOptions(DEFAULT_PACER_OPTIONS, scale), ...options.pacer }, {
    onRetry: (event) => options.log?.warn({ endpoint: event.endpoint, kind: event.kind, err: (event.error as Error).message }, 'retry'),
  })
  return new FichierClient({
    apiKey: emu.apiKey,
    endpoint: emu.apiBase,
    pacer,
    uploadRetryDelayMs: 20,
    endPollDelaysMs: [10, 20, 40],
    downloadRetryDelayMs: 10,
    ...options.client,
  })
}

export async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk)
  return Buffer.concat(parts)
}
