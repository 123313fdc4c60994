import type { ServerMessage } from '@parley/protocol'

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/** Decoded server messages in arrival order, pulled by tests with `next()`; shared by the socket and loopback clients. */
export class MessageQueue {
  readonly received: ServerMessage[] = []
  readonly #waiters: Array<() => void> = []
  #cursor = 0

  push(message: ServerMessage): void {
    this.received.push(message)
    this.wake()
  }

  /** Wakes waiters (also after something other than a message, such as a refused frame). */
  wake(): void {
    for (const wake of this.#waiters.splice(0)) wake()
  }

  /** The next message not yet taken (optionally of a type, skipping others), within `timeoutMs`. */
  async next<T extends ServerMessage['type']>(type: T | undefined, timeoutMs: number): Promise<Of<T>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.#cursor < this.received.length) {
        const message = this.received[this.#cursor++] as ServerMessage
        if (type === undefined || message.type === type) return message as Of<T>
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${type ?? 'a message'}; got ${JSON.stringify(this.received.slice(-5))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Resolves with what arrived during `ms` (to show something was NOT sent). */
  async quiet(ms: number): Promise<ServerMessage[]> {
    const before = this.received.length
    await new Promise((resolve) => setTimeout(resolve, ms))
    return this.received.slice(before)
  }
}
