import { isDeepStrictEqual } from 'node:util'

/** A scenario's expectation that did not hold: the message says what was expected and what happened. */
export class ContractFailure extends Error {
  override readonly name = 'ContractFailure'
}

const show = (value: unknown): string => {
  try {
    const text = JSON.stringify(value)
    if (text === undefined) return String(value)
    return text.length > 600 ? `${text.slice(0, 600)}…` : text
  } catch {
    return String(value)
  }
}

/** Fails unless `actual` deep-equals `expected` (plain data: JSON-like values). */
export function expectEqual<T>(actual: unknown, expected: T, what: string): asserts actual is T {
  if (!isDeepStrictEqual(actual, expected)) throw new ContractFailure(`${what}: expected ${show(expected)}, got ${show(actual)}`)
}

/** Fails unless `condition` holds; `detail` is shown when it does not. */
export function expectTrue(condition: boolean, what: string, detail?: unknown): asserts condition {
  if (!condition) throw new ContractFailure(detail === undefined ? what : `${what} (got ${show(detail)})`)
}

/** Polls `predicate` every 5 ms until it holds, failing with `what` (and `detail()`, when given) after `timeoutMs`. */
export async function eventually(predicate: () => boolean, what: string, timeoutMs: number, detail?: () => unknown): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new ContractFailure(`timed out after ${timeoutMs} ms waiting until ${what}${detail === undefined ? '' : ` (got ${show(detail())})`}`)
    }
    await sleep(5)
  }
}

/** Resolves with the error a promise rejected with, failing when it resolved instead. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    const value = await promise
    throw new ContractFailure(`${what}: expected a refusal, got ${show(value)}`)
  } catch (error) {
    if (error instanceof ContractFailure) throw error
    return error
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
