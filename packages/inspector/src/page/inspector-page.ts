/**
 * The inspector page's script (bundled with the client SDK for the browser). It connects to the inspector's live
 * channel with the Parley client, renders each snapshot the server broadcasts, and sends the operator's actions as
 * Parley requests. Every value from the server is written with `textContent`: nothing becomes markup.
 */
import { AuthError, createClient, type Client } from '@parley/client-sdk'
import type { InspectorSnapshot } from '../snapshot.js'

const KEY_STORAGE = 'parley-inspector-key'
const base = document.querySelector<HTMLMetaElement>('meta[name="parley-inspector-path"]')?.content ?? '/parley-inspector'
const liveUrl = (): string => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${base}/live`

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (text !== undefined) node.textContent = text
  if (className !== undefined) node.className = className
  return node
}

const number = new Intl.NumberFormat('en')
function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1_048_576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1_048_576).toFixed(1)} MB`
}
function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}
function time(ts: number): string {
  return new Date(ts).toLocaleTimeString()
}
function preview(data: unknown): string {
  if (typeof data === 'string') return data
  if (typeof data === 'object' && data !== null && typeof (data as { text?: unknown }).text === 'string') return (data as { text: string }).text
  return JSON.stringify(data)
}

let client: Client | undefined
let selected: string | undefined
let toastTimer: ReturnType<typeof setTimeout> | undefined

function toast(message: string): void {
  const node = $('toast')
  node.textContent = message
  node.hidden = false
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => (node.hidden = true), 3000)
}

async function act(name: string, input: Record<string, string>, done: string): Promise<void> {
  if (client === undefined) return
  try {
    const report = (await client.request(name, input)) as { sessions?: number } | null
    toast(report !== null && typeof report.sessions === 'number' ? `${done} (${report.sessions} session${report.sessions === 1 ? '' : 's'})` : done)
    if (selected !== undefined) void showRoom(selected)
  } catch (error) {
    toast(`Failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function render(snapshot: InspectorSnapshot): void {
  $('t-connections').textContent = number.format(snapshot.totals.connections)
  $('t-rooms').textContent = number.format(snapshot.totals.rooms)
  $('t-members').textContent = number.format(snapshot.totals.members)
  $('t-rate').textContent = number.format(snapshot.totals.deliveriesPerSec)
  $('t-errors').textContent = number.format(snapshot.totals.errors)
  $('nodes').textContent = `${snapshot.nodes.length} node${snapshot.nodes.length === 1 ? '' : 's'}`
  $('partial').hidden = !snapshot.partial

  const rooms = $('rooms').querySelector('tbody') as HTMLTableSectionElement
  rooms.replaceChildren(
    ...snapshot.rooms.map((room) => {
      const row = el('tr')
      row.dataset['room'] = room.room
      row.setAttribute('aria-selected', String(room.room === selected))
      row.append(el('td', room.room), el('td', number.format(room.members), 'num'), el('td', room.messagesPerSec.toFixed(1), 'num'))
      row.addEventListener('click', () => void showRoom(room.room))
      return row
    }),
  )
  $('rooms-empty').hidden = snapshot.rooms.length > 0

  const sessions = $('sessions').querySelector('tbody') as HTMLTableSectionElement
  sessions.replaceChildren(
    ...snapshot.sessions.map((session) => {
      const row = el('tr')
      row.dataset['user'] = session.user
      const roomsCell = el('td')
      for (const room of session.rooms) roomsCell.append(el('span', room, 'pill'))
      if (session.roomCount > session.rooms.length) roomsCell.append(el('span', `+${session.roomCount - session.rooms.length}`, 'muted'))
      const kick = el('button', 'Disconnect', 'danger')
      kick.type = 'button'
      kick.addEventListener('click', () => void act('user.disconnect', { user: session.user }, `Disconnected ${session.user}`))
      const actions = el('td')
      actions.append(kick)
      row.append(
        el('td', session.user),
        el('td', session.transport),
        el('td', session.protocol),
        el('td', bytes(session.bufferedBytes), 'num'),
        el('td', age(snapshot.at - session.openedAt), 'num'),
        roomsCell,
        el('td', session.node, 'muted'),
        actions,
      )
      return row
    }),
  )
  const total = snapshot.nodes.reduce((sum, node) => sum + node.sessionsTotal, 0)
  $('sessions-count').textContent = total > snapshot.sessions.length ? `${snapshot.sessions.length} of ${number.format(total)}` : `${total}`

  $('errors').replaceChildren(
    ...snapshot.errors.map((error) => {
      const item = el('li')
      item.append(el('span', time(error.ts), 'muted'), el('span', error.code, 'code'), el('span', [error.user, error.room, error.message].filter((part) => part !== undefined && part !== '').join(' · ')))
      return item
    }),
  )
  $('errors-empty').hidden = snapshot.errors.length > 0
}

interface RoomDetail {
  readonly room: string
  readonly members: ReadonlyArray<{ user: string; connections: number }>
  readonly messages: ReadonlyArray<{ seq: number; from: string | null; ts: number; data: unknown }>
}

async function showRoom(room: string): Promise<void> {
  if (client === undefined) return
  selected = room
  document.querySelectorAll<HTMLTableRowElement>('#rooms tbody tr').forEach((row) => row.setAttribute('aria-selected', String(row.dataset['room'] === room)))
  $('detail').hidden = false
  $('detail-title').textContent = room
  try {
    const detail = (await client.request('room.detail', { room })) as unknown as RoomDetail
    if (selected !== room) return
    $('detail-members').replaceChildren(
      ...detail.members.map((member) => {
        const item = el('li')
        item.dataset['user'] = member.user
        const remove = el('button', 'Remove', 'danger')
        remove.type = 'button'
        remove.addEventListener('click', () => void act('room.remove', { room, user: member.user }, `Removed ${member.user} from ${room}`))
        item.append(el('span', `${member.user}${member.connections > 1 ? ` (${member.connections} connections)` : ''}`), remove)
        return item
      }),
    )
    $('detail-messages').replaceChildren(
      ...(detail.messages.length === 0 ? [el('li', 'No messages yet.', 'muted')] : []),
      ...detail.messages.map((message) => {
        const item = el('li')
        item.append(el('span', message.from ?? 'system', 'from'), el('span', preview(message.data)))
        item.title = `#${message.seq} at ${time(message.ts)}`
        return item
      }),
    )
    $('detail-status').textContent = `${detail.members.length} member${detail.members.length === 1 ? '' : 's'}, last ${detail.messages.length} messages`
  } catch (error) {
    $('detail-status').textContent = `Could not load ${room}: ${error instanceof Error ? error.message : String(error)}`
  }
}

function start(key: string | undefined): void {
  $('login').hidden = true
  $('app').hidden = false
  client = createClient(liveUrl(), key === undefined ? {} : { token: key })
  client.on('state', (state) => {
    const status = $('status')
    status.dataset['state'] = state
    status.textContent = state === 'open' ? 'live' : state
  })
  client.on('direct', (message) => render(message.data as unknown as InspectorSnapshot))
  client.on('error', (error) => {
    if (!(error instanceof AuthError)) return
    sessionStorage.removeItem(KEY_STORAGE)
    void client?.close()
    client = undefined
    $('app').hidden = true
    $('login').hidden = false
    // Without a key this was the app's own session, refused: the key form is the way in, with nothing to correct.
    const message = $('login-error')
    message.textContent = 'That key was refused.'
    message.hidden = key === undefined
  })
}

$('detail-close').addEventListener('click', () => {
  selected = undefined
  $('detail').hidden = true
  document.querySelectorAll('#rooms tbody tr').forEach((row) => row.setAttribute('aria-selected', 'false'))
})
$<HTMLFormElement>('publish-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = $<HTMLInputElement>('publish-text')
  if (selected === undefined || input.value.trim() === '') return
  void act('room.publish', { room: selected, text: input.value.trim() }, `Published to ${selected}`)
  input.value = ''
})
$<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const key = $<HTMLInputElement>('key').value
  sessionStorage.setItem(KEY_STORAGE, key)
  $('login-error').hidden = true
  start(key)
})

// A stored key from this tab, else try the app's own session (cookies), which shows the key form if refused.
start(sessionStorage.getItem(KEY_STORAGE) ?? undefined)
