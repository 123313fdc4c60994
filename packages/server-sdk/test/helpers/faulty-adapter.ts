import { createMemoryAdapter, ParleyServerError, type Adapter, type AdapterNode } from '@parley/server-sdk'

/** What a test can make the adapter's node do wrong, switched on and off while the test runs. */
export interface AdapterFaults {
  /** Calls of these kinds fail with TRY_AGAIN_LATER, as a cluster adapter's do while its store is down. */
  readonly fail: Set<keyof AdapterNode>
  /** The next call of each kind listed waits this many milliseconds first, once. */
  readonly delayOnce: Map<keyof AdapterNode, number>
  /** Room messages for this node are dropped (a lost subscription: the next one that arrives makes the hub re-sync). */
  lose: boolean
}

/** The memory adapter with {@link AdapterFaults} to switch on. */
export function faultyAdapter(): { adapter: Adapter; faults: AdapterFaults } {
  const faults: AdapterFaults = { fail: new Set(), delayOnce: new Map(), lose: false }
  const inner = createMemoryAdapter()
  const adapter: Adapter = {
    async connect(hooks, config) {
      const node = await inner.connect({ ...hooks, message: (message, except) => void (faults.lose || hooks.message(message, except)) }, config)
      return new Proxy(node, {
        get(target, key: keyof AdapterNode) {
          const value = target[key]
          if (typeof value !== 'function') return value
          // Calls stay as they are (synchronous ones too) unless a fault applies to them.
          const call = (args: unknown[]): unknown =>
            faults.fail.has(key)
              ? Promise.reject(new ParleyServerError('TRY_AGAIN_LATER', 'store down'))
              : (value as (...a: unknown[]) => unknown).apply(target, args)
          return (...args: unknown[]) => {
            const delay = faults.delayOnce.get(key)
            if (delay === undefined) return call(args)
            faults.delayOnce.delete(key)
            return new Promise((resolve) => setTimeout(resolve, delay)).then(() => call(args))
          }
        },
      })
    },
  }
  return { adapter, faults }
}
