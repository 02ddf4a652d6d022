/** The transport's own contract: closing never waits on a request the server does not answer. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { HttpTransport } from '../../src/client/http.js'

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
})

it('close() cuts a request that is still waiting for its answer once the grace time is over', async () => {
  let arrived!: () => void
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve))
  server = createServer(() => arrived()) // never answers
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const http = new HttpTransport()
  const pending = http.send({ method: 'GET', url: `http://127.0.0.1:${port}/`, label: 'test', headersTimeoutMs: 3_600_000 })
  const outcome = pending.then(() => 'answered', (error: Error) => error.message)
  await requestArrived
  const started = Date.now()
  await http.close(300)
  expect(Date.now() - started).toBeLessThan(2_000)
  expect(await outcome).toBe('test: aborted')
})

it('never follows a redirect, so the key in a request cannot travel to where it points', async () => {
  const seenElsewhere: string[] = []
  const elsewhere = createServer((req, res) => {
    seenElsewhere.push(String(req.headers.authorization))
    res.end('ok')
  })
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve))
  server = createServer((_req, res) => {
    res.writeHead(302, { location: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/steal` })
    res.end()
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const http = new HttpTransport()
  try {
    const response = await http.send({ method: 'GET', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, label: 'test', headers: { authorization: 'Bearer secret' } })
    expect(response.status).toBe(302)
    await response.dump()
    expect(seenElsewhere).toEqual([])
  } finally {
    await http.close()
    await new Promise((resolve) => elsewhere.close(resolve))
  }
})
