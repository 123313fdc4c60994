import mitt, { type Handler } from 'mitt'

/** A typed event emitter (mitt underneath) whose `on` returns its own unsubscribe. */
export interface Emitter<Events extends Record<string, unknown>> {
  /** Adds a handler; returns a function that removes it. */
  on<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): () => void
  off<K extends keyof Events>(type: K, handler: (event: Events[K]) => void): void
  emit<K extends keyof Events>(type: K, event: Events[K]): void
}

/**
 * Creates an {@link Emitter}. Emitting runs every handler even when one throws: the SDK's own state must never
 * depend on the app's handlers, so a throw is rethrown on a microtask (an uncaught error the app sees) instead of
 * unwinding the SDK. Handlers may unsubscribe while an event is being emitted.
 */
export function createEmitter<Events extends Record<string, unknown>>(): Emitter<Events> {
  const inner = mitt<Events>()
  return {
    on(type, handler) {
      inner.on(type, handler)
      return () => inner.off(type, handler)
    },
    off: (type, handler) => inner.off(type, handler),
    emit(type, event) {
      const handlers = inner.all.get(type) as Array<Handler<Events[typeof type]>> | undefined
      for (const handler of handlers?.slice() ?? []) {
        try {
          handler(event)
        } catch (error) {
          queueMicrotask(() => {
            throw error
          })
        }
      }
    },
  }
}
