import { describe, expect, it } from 'vitest'
import { ParleyClientError, type HistoryPage, type RoomMessageEvent } from '@parley/client-sdk'
import { createMemoryHistory, type HistoryStore } from '@parley/server-sdk'
import { useLive, waitUntil } from './helpers/live-server.js'
import { collect, nextEvent } from './helpers/wait.js'

// The client's history API against the real server: room.history() paging, join(room, { last }) before live
// messages, room.search(), and the errors each one answers.

const live = useLive()
const RECONNECT = { initialDelayMs: 20, maxDelayMs: 100 }

interface Chat {
  readonly text: string
}

describe('client history', () => {
  it('room.history() pages back through everything the store kept, oldest first, each message once', async () => {
    const server = await live.server({ history: { size: 10, store: createMemoryHistory() } })
    for (let i = 1; i <= 120; i++) await server.parley.room('chat').publish({ text: `m${i}` })
    await waitUntil(() => server.parley.stats().history.written === 120, 'stored')
    const client = live.client(server.url)
    const room = client.join<Chat>('chat')
    const texts: string[] = []
    let page: HistoryPage<Chat> = await room.history({ limit: 25 })
    for (;;) {
      texts.unshift(...page.messages.map((m) => m.data.text))
      if (!page.more) break
      page = await room.history({ before: page.messages[0], limit: 25 })
    }
    expect(texts).toEqual(Array.from({ length: 120 }, (_, i) => `m${i + 1}`))
    const first = (await room.history({ limit: 1 })).messages[0] as RoomMessageEvent<Chat>
    expect(first).toMatchObject({ type: 'message', room: 'chat', seq: 120, from: null, data: { text: 'm120' } })
  })

  it('join(room, { last }) emits the last N once, before live messages, and a reconnect resumes instead of repeating them', async () => {
    const server = await live.server({ history: { store: createMemoryHistory() } })
    for (let i = 1; i <= 8; i++) await server.parley.room('chat').publish({ text: `old ${i}` })
    const client = live.client(server.url, { reconnect: RECONNECT })
    const room = client.join<Chat>('chat', { last: 3 })
    const order: string[] = []
    room.on('history', (page) => order.push(`history ${page.messages.map((m) => m.data.text).join(',')} more=${page.more}`))
    room.on('message', (m) => order.push(`message ${m.data.text}`))
    await nextEvent(room, 'history')
    await server.parley.room('chat').publish({ text: 'live 1' })
    await waitUntil(() => order.length === 2, 'live message')
    // Drop the connection: the re-join resumes from live 1 and gets only what it missed.
    for (const session of server.parley.sessions()) session.close(4000, 'test drop')
    await nextEvent(room, 'joined')
    await server.parley.room('chat').publish({ text: 'live 2' })
    await waitUntil(() => order.length === 3, 'second live message')
    expect(order).toEqual(['history old 6,old 7,old 8 more=true', 'message live 1', 'message live 2'])
  })

  it('room.search() finds messages by their text, and an injection attempt is just text', async () => {
    const server = await live.server({ history: { store: createMemoryHistory() } })
    for (const text of ['ship it friday', 'lunch?', 'friday standup moved', "x'); DROP TABLE parley_history; --"]) await server.parley.room('chat').publish({ text })
    await waitUntil(() => server.parley.stats().history.written === 4, 'written')
    const client = live.client(server.url)
    const room = client.join<Chat>('chat')
    expect((await room.search('friday')).messages.map((m) => m.data.text)).toEqual(['ship it friday', 'friday standup moved'])
    expect((await room.search("'); DROP TABLE")).messages.map((m) => m.seq)).toEqual([4])
    expect((await room.search('friday')).messages.map((m) => m.data.text)).toHaveLength(2)
  })

  it('rejects with typed errors: bad arguments at once, a store that is down, a cursor of another room, a server without search', async () => {
    let down = false
    const inner = createMemoryHistory()
    const store: HistoryStore = {
      append: (batch) => inner.append(batch),
      read: async (room, query) => {
        if (down) throw new Error('connection refused')
        return inner.read(room, query)
      },
    }
    const server = await live.server({ history: { store } })
    await server.parley.room('chat').publish({ text: 'hi' })
    const client = live.client(server.url)
    const room = client.join<Chat>('chat')
    await expect(room.history({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    await expect(room.history({ limit: 501 })).rejects.toBeInstanceOf(ParleyClientError)
    await expect(room.search('')).rejects.toMatchObject({ code: 'INVALID_FIELD' })
    await expect(room.history({ before: { epoch: 'not-this-room', seq: 3 } })).rejects.toMatchObject({ code: 'HISTORY_CURSOR_INVALID', room: 'chat' })
    await expect(room.search('hi')).rejects.toMatchObject({ code: 'HISTORY_UNAVAILABLE' })
    down = true
    await expect(room.history()).rejects.toMatchObject({ code: 'HISTORY_UNAVAILABLE' })
    // A join with last whose history cannot be read still joins; the room's error event says why.
    const errors = collect(client.join('other', { last: 5 }), 'error')
    await waitUntil(() => errors.length === 1, 'history error')
    expect(errors[0]).toMatchObject({ code: 'HISTORY_UNAVAILABLE', room: 'other' })
    down = false
    expect((await room.history()).messages.map((m) => m.data.text)).toEqual(['hi'])
  })

  it('a history read made while offline waits for the connection', async () => {
    const server = await live.server({ history: { store: createMemoryHistory() } })
    await server.parley.room('chat').publish({ text: 'waiting for you' })
    const client = live.client(server.url)
    const page = client.join<Chat>('chat').history()
    expect((await page).messages.map((m) => m.data.text)).toEqual(['waiting for you'])
  })
})
