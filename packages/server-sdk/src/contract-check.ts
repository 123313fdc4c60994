import { describeIssues, validateWith, type ClientMessage, type Contract, type JsonValue, type Schema } from '@parley/protocol'
import { ParleyServerError } from './server-error.js'

/**
 * Checks a client message against the app's contract: a publish's `data`, a join's or presence update's `presence`,
 * a signal's `value` (by key), in rooms the contract names; a request's `input`. Returns the message with the
 * validated values (a schema may transform them), or throws `VALIDATION_FAILED` with the issues. Rooms and requests
 * the contract does not name pass unchecked (`authorize` decides which rooms exist; `handle` which requests).
 */
export function checkAgainstContract(contract: Contract, message: ClientMessage): ClientMessage {
  switch (message.type) {
    case 'publish': {
      const schema = contract.room(message.room)?.message
      return schema === undefined ? message : { ...message, data: checked(schema, message.data, `publish to ${message.room}: data`) }
    }
    case 'join': {
      // No presence (absent, or null) is not checked: a member may have none, on both sides.
      const schema = message.presence === undefined || message.presence === null ? undefined : contract.room(message.room)?.presence
      return schema === undefined ? message : { ...message, presence: checked(schema, message.presence, `join ${message.room}: presence`) }
    }
    case 'presence-update': {
      const schema = message.presence === null ? undefined : contract.room(message.room)?.presence
      return schema === undefined ? message : { ...message, presence: checked(schema, message.presence, `presence in ${message.room}`) }
    }
    case 'signal': {
      const signals = contract.room(message.room)?.signals
      if (signals === undefined) return message
      const schema = Object.prototype.hasOwnProperty.call(signals, message.key) ? signals[message.key] : undefined
      if (schema === undefined) {
        throw new ParleyServerError('VALIDATION_FAILED', `signal ${message.key} in ${message.room}: the contract has no such signal`, { issues: [{ path: '', message: `unknown signal key ${message.key}` }] })
      }
      // Clearing a signal (null) is always allowed.
      return message.value === null ? message : { ...message, value: checked(schema, message.value, `signal ${message.key} in ${message.room}`) }
    }
    case 'request': {
      const schema = contract.request(message.name)?.input
      return schema === undefined ? message : { ...message, input: checked(schema, message.input, `request ${message.name}: input`) }
    }
    default:
      return message
  }
}

/** The validated value, which must still be JSON; throws `VALIDATION_FAILED` naming `what` and the issues. */
export function checked(schema: Schema, value: unknown, what: string): JsonValue {
  const result = validateWith(schema, value)
  if ('issues' in result) throw new ParleyServerError('VALIDATION_FAILED', `${what}: ${describeIssues(result.issues)}`, { issues: result.issues })
  return result.value as JsonValue
}
