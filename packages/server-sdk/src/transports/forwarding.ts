/**
 * A request for a stream's node, made by the node an HTTP POST landed on (no sticky sessions: a load balancer may
 * send a session's POSTs anywhere). Carried by the adapter (`AdapterNode.forward`) to the node holding the stream.
 */
export interface ForwardRequest {
  /** The stream id: `<node id>.<random>`, so any node knows where the stream lives. */
  readonly stream: string
  /** The stream's secret as the client sent it; checked (in constant time) by the holding node only. */
  readonly secret: string
  /** `frames`: deliver `lines` in order; `close`: the client closes the stream with `code`. */
  readonly kind: 'frames' | 'close'
  readonly lines: readonly string[]
  readonly code?: number | undefined
}

/** The holding node's answer, which the first node writes back as the POST's HTTP answer. */
export interface ForwardAnswer {
  readonly status: number
  readonly body?: { readonly code: string; readonly message: string } | undefined
}

const NODE_ID = /^[a-z0-9]{1,64}$/

/** Checks a forwarded request that arrived from another node (untrusted input), or says why it is not one. */
export function checkForward(value: unknown, maxBytes: number): ForwardRequest | string {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const { stream, secret, kind, lines, code } = value as Record<string, unknown>
  if (typeof stream !== 'string' || stream.length > 128 || !NODE_ID.test(stream.split('.')[0] ?? '')) return 'stream: expected a stream id'
  if (typeof secret !== 'string' || secret.length > 128) return 'secret: expected a string'
  if (kind !== 'frames' && kind !== 'close') return 'kind: expected frames or close'
  if (!Array.isArray(lines) || !lines.every((line) => typeof line === 'string')) return 'lines: expected strings'
  if ((lines as string[]).reduce((sum, line) => sum + line.length, 0) > maxBytes) return 'lines: too large'
  if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code))) return 'code: expected an integer'
  return { stream, secret, kind, lines: lines as string[], ...(code === undefined ? {} : { code: code as number }) }
}

/** The node a stream id belongs to. */
export function nodeOfStream(stream: string): string | undefined {
  const node = stream.split('.')[0]
  return node !== undefined && NODE_ID.test(node) && stream.length <= 128 ? node : undefined
}
