import type { ClientMessage } from '@parley/protocol'
import type { ParleySession } from './session.js'

/** What message middleware sees. Middleware may replace `message` (keeping its type) or throw to reject it. */
export interface MiddlewareContext {
  readonly session: ParleySession
  message: ClientMessage
}

/** Koa-style message middleware: call `next()` to go on; throw a `ParleyServerError` to answer with its code. */
export type Middleware = (context: MiddlewareContext, next: () => Promise<void>) => Promise<void> | void

/** Composes middleware around a final handler, Koa style; calling `next()` twice is a bug and rejects. */
export function compose(middleware: readonly Middleware[], handler: (context: MiddlewareContext) => Promise<void>) {
  return (context: MiddlewareContext): Promise<void> => {
    let last = -1
    const dispatch = async (index: number): Promise<void> => {
      if (index <= last) throw new Error('Parley middleware called next() more than once')
      last = index
      const current = middleware[index]
      if (current === undefined) return handler(context)
      await current(context, () => dispatch(index + 1))
    }
    return dispatch(0)
  }
}
