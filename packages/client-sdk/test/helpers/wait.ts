import type { Client, ClientEvents, Room, RoomEvents } from '@parley/client-sdk'

// Captured before any test installs fake timers: a real macrotask boundary drains every pending microtask.
const realSetImmediate = globalThis.setImmediate

/** Lets every queued microtask (loopback frames, promise chains) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve))
}

type Target = { on(type: string, handler: (event: unknown) => void): () => void }

/** The next `type` event of a client or room. */
export function nextEvent<K extends keyof ClientEvents>(target: Client, type: K): Promise<ClientEvents[K]>
export function nextEvent<M, P, S, K extends keyof RoomEvents<M, P, S>>(target: Room<M, P, S>, type: K): Promise<RoomEvents<M, P, S>[K]>
export function nextEvent(target: Client | Room<unknown, unknown, unknown>, type: string): Promise<unknown> {
  return new Promise((resolve) => {
    const off = (target as unknown as Target).on(type, (event) => {
      off()
      resolve(event)
    })
  })
}

/** Every `type` event from now on, in an array that fills as they come. */
export function collect<K extends keyof ClientEvents>(target: Client, type: K): Array<ClientEvents[K]>
export function collect<M, P, S, K extends keyof RoomEvents<M, P, S>>(target: Room<M, P, S>, type: K): Array<RoomEvents<M, P, S>[K]>
export function collect(target: Client | Room<unknown, unknown, unknown>, type: string): unknown[] {
  const events: unknown[] = []
  ;(target as unknown as Target).on(type, (event) => void events.push(event))
  return events
}

/** Resolves once the client is open (at once when it already is). */
export function opened(client: Client): Promise<void> {
  return client.state === 'open' ? Promise.resolve() : nextEvent(client, 'welcome').then(() => undefined)
}
