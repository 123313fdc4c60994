/** Longest close reason RFC 6455 §5.5 allows: a 125-byte control payload less the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123

const encoder = new TextEncoder()

/**
 * Cuts a close reason to {@link MAX_CLOSE_REASON_BYTES} UTF-8 bytes, ending a cut one with `…`, never splitting a
 * character. Both SDKs and every transport use this one rule, so a reason reads the same whoever closed.
 */
export function limitCloseReason(reason: string): string {
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short reasons skip the encoding.
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES || encoder.encode(reason).length <= MAX_CLOSE_REASON_BYTES) return reason
  let cut = [...reason].slice(0, MAX_CLOSE_REASON_BYTES).join('')
  while (encoder.encode(`${cut}…`).length > MAX_CLOSE_REASON_BYTES) cut = [...cut].slice(0, -1).join('')
  return `${cut}…`
}
