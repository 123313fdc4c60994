/**
 * Every close code Parley sends or acts on. 1xxx are RFC 6455 §7.4.1 codes for wire faults; 4xxx are the
 * application range (RFC 6455 §7.4.2), mirroring HTTP statuses where one fits.
 */
export enum CloseCode {
  /** 1000: normal closure; the client called `close()` or the server ended the session on purpose. */
  Normal = 1000,
  /** 1001: the server is shutting down or the page is going away; reconnect (elsewhere). */
  GoingAway = 1001,
  /** 1002: the peer broke the WebSocket protocol or Parley's framing rules. */
  ProtocolError = 1002,
  /** 1003: a frame of a kind this subprotocol does not accept (binary frames on `parley.v1.json`). */
  UnsupportedData = 1003,
  /** 1006: reserved, never sent: the connection dropped without a close frame. */
  Abnormal = 1006,
  /** 1007: a frame whose content is not valid (bad UTF-8 in a text frame). */
  InvalidPayload = 1007,
  /** 1008: a generic policy violation that no more specific code covers. */
  PolicyViolation = 1008,
  /** 1009: a frame larger than `maxPayload`. */
  MessageTooBig = 1009,
  /** 1011: the server met an unexpected condition. */
  InternalError = 1011,
  /** 1012: the server is restarting; reconnect after a short wait. */
  ServiceRestart = 1012,
  /** 1013: the server is overloaded; reconnect later, with backoff. */
  TryAgainLater = 1013,
  /** 4400: too many invalid messages; the client has a bug, reconnecting would repeat it. */
  BadRequest = 4400,
  /** 4401: authentication failed or was revoked. */
  Unauthorized = 4401,
  /** 4403: the user is not allowed to use this server at all. */
  Forbidden = 4403,
  /** 4406: no protocol version in common (the first-message handshake path; the HTTP path answers 426). */
  UnsupportedVersion = 4406,
  /** 4408: first-message authentication did not arrive in time. */
  AuthenticationTimeout = 4408,
  /** 4409: the user already has the maximum number of connections. */
  TooManyConnections = 4409,
  /** 4419: the access token expired and was not refreshed in band; reconnect with a fresh token. */
  TokenExpired = 4419,
  /** 4429: rate limit exceeded for a sustained period. */
  RateLimited = 4429,
  /** 4500: an internal error ended this session. */
  ServerError = 4500,
  /** 4509: slow consumer: the client read too slowly and its outbound buffer passed the cap. */
  SlowConsumer = 4509,
}

/** What a close code means to a client. */
export interface CloseCodeInfo {
  readonly code: number
  readonly name: string
  /** Should a client reconnect (with backoff) after this close? */
  readonly retryable: boolean
  readonly description: string
}

const info = (code: CloseCode, retryable: boolean, description: string): CloseCodeInfo => ({
  code,
  name: CloseCode[code] as string,
  retryable,
  description,
})

/** The one close-code table: every code, whether to reconnect, and what it means. */
export const CLOSE_CODES: readonly CloseCodeInfo[] = Object.freeze([
  info(CloseCode.Normal, false, 'Closed on purpose by either side.'),
  info(CloseCode.GoingAway, true, 'Server shutting down or draining; reconnect, possibly to another node.'),
  info(CloseCode.ProtocolError, false, 'The peer broke the WebSocket or Parley framing rules.'),
  info(CloseCode.UnsupportedData, false, 'Binary frame on a text subprotocol.'),
  info(CloseCode.Abnormal, true, 'Connection lost without a close frame (never sent on the wire).'),
  info(CloseCode.InvalidPayload, false, 'Frame content invalid: bad UTF-8 in a text frame.'),
  info(CloseCode.PolicyViolation, false, 'Policy violation.'),
  info(CloseCode.MessageTooBig, false, 'Frame larger than maxPayload.'),
  info(CloseCode.InternalError, true, 'Unexpected server condition.'),
  info(CloseCode.ServiceRestart, true, 'Server restarting; reconnect after a short wait.'),
  info(CloseCode.TryAgainLater, true, 'Server overloaded; reconnect later with backoff.'),
  info(CloseCode.BadRequest, false, 'Too many invalid messages: a client bug that reconnecting would repeat.'),
  info(CloseCode.Unauthorized, false, 'Authentication failed or was revoked.'),
  info(CloseCode.Forbidden, false, 'The user may not use this server.'),
  info(CloseCode.UnsupportedVersion, false, 'No protocol version in common.'),
  info(CloseCode.AuthenticationTimeout, true, 'First-message authentication did not arrive in time.'),
  info(CloseCode.TooManyConnections, false, 'The user has the maximum number of connections open.'),
  info(CloseCode.TokenExpired, true, 'Access token expired; reconnect with a fresh token.'),
  info(CloseCode.RateLimited, true, 'Rate limit exceeded for too long; reconnect with backoff.'),
  info(CloseCode.ServerError, true, 'An internal error ended the session.'),
  info(CloseCode.SlowConsumer, true, 'Outbound buffer passed its cap; reconnect and recover missed messages.'),
])

const byCode = new Map<number, CloseCodeInfo>(CLOSE_CODES.map((entry) => [entry.code, entry]))

/** The table row of a close code, or `undefined` for a code Parley does not define. */
export function closeCodeInfo(code: number): CloseCodeInfo | undefined {
  return byCode.get(code)
}

/**
 * Should a client reconnect after a close with this code? Codes in the table answer from it. Codes outside it:
 * other 1xxx codes (1005 no status, 1014 bad gateway, 1015 TLS) and unknown 4xxx codes are treated as transient
 * (retry with backoff), because a proxy or a newer server may send them; unknown 3xxx codes likewise.
 */
export function isRetryableClose(code: number): boolean {
  const known = byCode.get(code)
  if (known !== undefined) return known.retryable
  return code >= 1000 && code <= 4999
}
