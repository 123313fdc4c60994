import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../../server-sdk/test/helpers/harness.js'
import { recordingNode, type RecordingNode } from './helpers.js'
import { redisAvailable } from './redis-available.js'

const hasRedis = await redisAvailable()
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

const nodeOn = (keyPrefix: string): Promise<RecordingNode> => recordingNode(keyPrefix, cleanups)

describe.skipIf(!hasRedis)('redis adapter: a room left and joined again at once', () => {
  it('still hears the room when it subscribes while its unsubscribe is in flight', async () => {
    const keyPrefix = `parley-test-subs-${Date.now()}-${Math.random().toString(36).slice(2)}`
    const listener = await nodeOn(keyPrefix)
    const publisher = await nodeOn(keyPrefix)
    await listener.node.subscribe('lobby')
    // The last member leaves and another joins before Redis answered the UNSUBSCRIBE (the hub does not wait for it).
    const left = listener.node.unsubscribe('lobby')
    const joined = listener.node.subscribe('lobby')
    await Promise.all([left, joined])
    for (let i = 0; i < 3; i++) await publisher.node.publish({ room: 'lobby', from: 'bo', data: { i }, dataJson: JSON.stringify({ i }) })
    await waitUntil(() => listener.messages.length === 3, 'the three messages reach the node that left and joined again')
    expect(listener.messages.map((message) => message.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }])
    // And a leave that stays a leave: nothing more arrives.
    await listener.node.unsubscribe('lobby')
    await publisher.node.publish({ room: 'lobby', from: 'bo', data: { i: 3 }, dataJson: JSON.stringify({ i: 3 }) })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(listener.messages).toHaveLength(3)
  })
})
