import { defineContract, type JsonValue, type StandardSchemaV1 } from '@parley/protocol'

/**
 * The requests a server under test serves when a scenario asks for `setup.requests`, and the contract that checks
 * them. The schemas are hand-written Standard Schemas (no schema library), so a server in any stack can apply the
 * same rules, or a Parley-based one can take {@link REQUESTS_CONTRACT} as its `contract` option as it is.
 */

/** `echo`'s input: an object whose `text` is a string; any other fields are JSON and come back unchanged. */
export interface EchoInput {
  readonly text: string
  readonly [field: string]: JsonValue
}

/** The error code `refuse` answers with. */
export const REFUSE_CODE = 'TEAPOT'

/** A synchronous Standard Schema from a check that names the issue (path and message), or null when the value passes. */
function schema<T>(check: (value: unknown) => { readonly path: readonly string[]; readonly message: string } | null): StandardSchemaV1<T, T> {
  return {
    '~standard': {
      version: 1,
      vendor: 'parley-contract',
      validate(value) {
        const issue = check(value)
        // Returned as is (no copy, no transform): echo's output must be its input, exactly.
        return issue === null ? { value: value as T } : { issues: [issue] }
      },
    },
  }
}

const describe = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value)

const anyJson = schema<JsonValue>(() => null)

/**
 * The contract of the suite's requests:
 *
 * * `echo` answers its input unchanged; the input must be an object with a string `text` (so `{ text: 3 }` is
 *   `VALIDATION_FAILED` with an issue at path `text`, and `"hi"` one at the empty path);
 * * `whoami` answers the caller's user id, or `null` for an anonymous caller (a server without `setup.auth`); its
 *   input is ignored;
 * * `refuse` answers the error {@link REFUSE_CODE} (`TEAPOT`) with a message of the server's choosing.
 */
export const REQUESTS_CONTRACT = defineContract({
  requests: {
    echo: {
      input: schema<EchoInput>((value) => {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return { path: [], message: `Expected an object, got ${describe(value)}` }
        const text = (value as { text?: unknown }).text
        return typeof text === 'string' ? null : { path: ['text'], message: `Expected a string, got ${text === undefined ? 'nothing' : describe(text)}` }
      }),
      output: anyJson,
    },
    whoami: {
      input: anyJson,
      output: schema<string | null>((value) => (value === null || typeof value === 'string' ? null : { path: [], message: `Expected a string or null, got ${describe(value)}` })),
    },
    refuse: {
      input: anyJson,
      output: anyJson,
      errors: [REFUSE_CODE],
    },
  },
})
