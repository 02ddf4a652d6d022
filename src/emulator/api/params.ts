import type { Flag } from '../../client/wire.js'
import { ko } from '../errors.js'

export type JsonObject = Record<string, unknown>

export const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Typed, strict access to a request's JSON fields: a present field of the wrong JSON type is a
 * 400 (#705), never coerced, so a client that sends `"0"` for an integer hears about it here.
 */
export class Params {
  constructor(readonly body: JsonObject) {}

  has(key: string): boolean {
    return this.body[key] !== undefined
  }

  int(key: string): number {
    const value = this.optionalInt(key)
    if (value === undefined) throw ko.badParameter(key)
    return value
  }

  optionalInt(key: string): number | undefined {
    const value = this.body[key]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw ko.badParameter(key)
    return value
  }

  string(key: string): string {
    const value = this.optionalString(key)
    if (value === undefined) throw ko.badParameter(key)
    return value
  }

  optionalString(key: string): string | undefined {
    const value = this.body[key]
    if (value === undefined) return undefined
    if (typeof value !== 'string') throw ko.badParameter(key)
    return value
  }

  optionalFlag(key: string): Flag | undefined {
    const value = this.body[key]
    if (value === undefined) return undefined
    if (value !== 0 && value !== 1) throw ko.badParameter(key)
    return value
  }

  /** A non-empty array. */
  list(key: string): unknown[] {
    const value = this.body[key]
    if (!Array.isArray(value) || value.length === 0) throw ko.badParameter(key)
    return value
  }

  stringList(key: string): string[] {
    const list = this.list(key)
    if (!list.every((item) => typeof item === 'string')) throw ko.badParameter(key)
    return list as string[]
  }

  /** Groupware sharing is not emulated: a non-empty sharing user is refused like a foreign resource. */
  refuseSharing(...keys: string[]): void {
    for (const key of keys) if (this.optionalString(key)) throw ko.notAllowed()
  }
}
