/**
 * The one place that talks JSON to the API host: every call goes through the shared Pacer,
 * carries the key, and turns a KO answer (or a non-2xx status) into a FichierApiError.
 */
import { badResponse, parseJson } from './convert.js'
import { errorFromAnswer, FichierApiError } from './errors.js'
import { transportError, type HttpTransport } from './http.js'
import type { CallGate, Pacer } from './pacer.js'
import type { ApiPath } from './wire.js'

export interface CallOptions {
  method?: 'GET' | 'POST'
  /** The #code a retried mutation answers when an earlier attempt was applied (312). */
  alreadyDoneCode?: number
}

export class ApiCaller {
  constructor(
    private readonly http: HttpTransport,
    readonly pacer: Pacer,
    private readonly apiKey: string,
    private readonly base: string,
  ) {}

  call<T extends object>(path: ApiPath, body: object | undefined, gate: CallGate = {}, options: CallOptions = {}): Promise<T> {
    return this.pacer.run(path, gate, async (attempt) => {
      try {
        return await this.send<T>(path, body, options.method ?? 'POST')
      } catch (error) {
        // A retried mutation that answers "nothing changed" was applied by an earlier attempt
        // whose answer got lost.
        if (attempt > 1 && options.alreadyDoneCode !== undefined && error instanceof FichierApiError && error.apiCode === options.alreadyDoneCode) {
          return {} as T
        }
        throw error
      }
    })
  }

  private async send<T extends object>(path: ApiPath, body: object | undefined, method: 'GET' | 'POST'): Promise<T> {
    const response = await this.http.send({
      method,
      url: `${this.base}/${path}`,
      label: path,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        // 1fichier needs the JSON content type even on bodiless calls (rclone: "1Fichier API is bad").
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      throw transportError(path, error)
    }
    const json = parseJson(text)
    const message = json && typeof json.message === 'string' ? json.message : undefined
    if (response.status < 200 || response.status >= 300) throw errorFromAnswer(path, response.status, message)
    if (!json) throw badResponse(path, 'the answer is not JSON')
    if (typeof json.status === 'string' && json.status.toUpperCase() === 'KO') throw errorFromAnswer(path, response.status, message)
    return json as T
  }
}
