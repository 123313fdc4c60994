import { describe, expect, it } from 'vitest'
import { ParleyClientError, STATE_TRANSITIONS, canTransition, type ClientState } from '@parley/client-sdk'
import { transition } from '../src/state.js'

const STATES: readonly ClientState[] = ['connecting', 'open', 'reconnecting', 'closed']

describe('state table', () => {
  it('allows exactly the documented transitions', () => {
    const legal = STATES.flatMap((from) => STATES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`))
    expect(legal).toEqual([
      'connecting→open',
      'connecting→closed',
      'open→reconnecting',
      'open→closed',
      'reconnecting→open',
      'reconnecting→closed',
    ])
  })

  it('makes closed final', () => {
    expect(STATE_TRANSITIONS.closed).toEqual([])
    for (const to of STATES) expect(canTransition('closed', to)).toBe(false)
  })

  it('throws a typed INVALID_STATE error on an illegal move', () => {
    expect(transition('open', 'closed')).toBe('closed')
    let thrown: unknown
    try {
      transition('closed', 'open')
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ParleyClientError)
    expect((thrown as ParleyClientError).code).toBe('INVALID_STATE')
  })

  it('is frozen', () => {
    expect(Object.isFrozen(STATE_TRANSITIONS)).toBe(true)
    expect(Object.isFrozen(STATE_TRANSITIONS.open)).toBe(true)
  })
})
