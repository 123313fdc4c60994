/**
 * Request/response over a Node IPC channel (`child_process` with an `'ipc'` stdio entry), both ways. The runner talks
 * to each child through one of these; the load generator's requests for the server are relayed by the runner.
 */

import type { Serializable } from 'node:child_process'

interface Port {
  send?: ((message: Serializable) => boolean) | undefined
  on(event: 'message', listener: (message: unknown) => void): unknown
}

type Envelope =
  | { readonly ipc: 'req'; readonly id: number; readonly body: unknown }
  | { readonly ipc: 'res'; readonly id: number; readonly ok: boolean; readonly value?: unknown; readonly error?: string }
  | { readonly ipc: 'event'; readonly body: unknown }

export interface Channel {
  /** Sends a request; resolves with the other side's answer, rejects with its error. */
  request<T = unknown>(body: unknown): Promise<T>
  /** Answers the other side's requests. */
  handle(handler: (body: unknown) => unknown): void
  /** One-way message. */
  emit(body: unknown): void
  onEvent(listener: (body: unknown) => void): void
  /** Rejects every open request (the other side is gone). */
  fail(reason: string): void
}

export function channel(port: Port): Channel {
  let nextId = 0
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  let handler: ((body: unknown) => unknown) | undefined
  const listeners: Array<(body: unknown) => void> = []
  const send = (message: Envelope): void => {
    if (port.send === undefined) throw new Error('no IPC channel')
    port.send(message as Serializable)
  }
  port.on('message', (raw) => {
    const message = raw as Envelope
    if (typeof message !== 'object' || message === null || !('ipc' in message)) return
    if (message.ipc === 'res') {
      const entry = waiting.get(message.id)
      waiting.delete(message.id)
      if (message.ok) entry?.resolve(message.value)
      else entry?.reject(new Error(message.error))
    } else if (message.ipc === 'req') {
      const id = message.id
      Promise.resolve()
        .then(() => {
          if (handler === undefined) throw new Error('no handler')
          return handler(message.body)
        })
        .then(
          (value) => send({ ipc: 'res', id, ok: true, value: value ?? null }),
          (error: unknown) => send({ ipc: 'res', id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
        )
    } else if (message.ipc === 'event') {
      for (const listener of listeners) listener(message.body)
    }
  })
  return {
    request<T>(body: unknown): Promise<T> {
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
        send({ ipc: 'req', id, body })
      })
    },
    handle(fn) {
      handler = fn
    },
    emit(body) {
      send({ ipc: 'event', body })
    },
    onEvent(listener) {
      listeners.push(listener)
    },
    fail(reason) {
      for (const entry of waiting.values()) entry.reject(new Error(reason))
      waiting.clear()
    },
  }
}
