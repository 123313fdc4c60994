/**
 * The chat page: one Parley client, one room handle per joined room, plain DOM. Bundled by esbuild at server
 * start-up (see ../chat-server.ts). Everything people send is shown with `textContent` (see ./dom.ts).
 */
import { createClient, type Client, type Room, type RoomMessageEvent } from '@parley/client-sdk'
import type { Recovery } from '@parley/protocol'
import { MAX_TEXT_LENGTH, isChatMessage, isUsername, toRoomName, type ChatMessage } from '../chat-rules.js'
import { avatar, byId, el, formatCount, formatDuration, formatTime, toast, typingLine } from './dom.js'

/** What each connection tells the room about itself. */
interface Presence {
  readonly client: string
}

interface RoomView {
  readonly name: string
  readonly room: Room<ChatMessage, Presence>
  readonly log: HTMLDivElement
  /** Messages on the page, by `<from>/<mid>` (or `<epoch>/<seq>`): what makes a message show once, whatever happens. */
  readonly seen: Set<string>
  /** This tab's own messages by mid, shown at once and confirmed when the server's copy arrives. */
  readonly mine: Map<string, HTMLElement>
  /** Everyone seen in the room: true while online. */
  readonly people: Map<string, boolean>
  /** Who is typing, each with a safety timer in case the "stopped" signal never comes. */
  readonly typing: Map<string, ReturnType<typeof setTimeout>>
  readonly off: Array<() => void>
  unread: number
  joinedOnce: boolean
}

const STORAGE_KEY = 'parley-chat:username'
/** A message sent while offline waits this long for the server before it is shown as not sent. */
const SEND_TIMEOUT_MS = 30_000
const TYPING_IDLE_MS = 3_000
const GROUP_WINDOW_MS = 5 * 60_000

const ui = {
  login: byId('login'),
  loginForm: byId<HTMLFormElement>('login-form'),
  username: byId<HTMLInputElement>('username'),
  loginRoom: byId<HTMLInputElement>('login-room'),
  loginError: byId('login-error'),
  app: byId('app'),
  status: byId('status'),
  statusText: byId('status-text'),
  roomTitle: byId('room-title'),
  roomMembers: byId('room-members'),
  meAvatar: byId('me-avatar'),
  meName: byId('me-name'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  rooms: byId<HTMLUListElement>('rooms'),
  newRoom: byId<HTMLFormElement>('new-room'),
  newRoomName: byId<HTMLInputElement>('new-room-name'),
  stats: byId('stats'),
  statsAge: byId('stats-age'),
  banner: byId('banner'),
  logs: byId('logs'),
  typing: byId('typing'),
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLInputElement>('message-input'),
  people: byId<HTMLUListElement>('people'),
  toggleRooms: byId<HTMLButtonElement>('toggle-rooms'),
  togglePeople: byId<HTMLButtonElement>('toggle-people'),
}

let client: Client | undefined
let me = ''
let active: string | undefined
const views = new Map<string, RoomView>()
let activeRooms: Array<{ room: string; members: number }> = []
let everOpen = false
let typingIdle: ReturnType<typeof setTimeout> | undefined
let bannerTimer: ReturnType<typeof setTimeout> | undefined
let statusTimer: ReturnType<typeof setTimeout> | undefined
let polls: Array<ReturnType<typeof setInterval>> = []
let roomsRefresh: ReturnType<typeof setTimeout> | undefined

// ---------------------------------------------------------------------------------------------------------------
// Sign-in

const remembered = localStorage.getItem(STORAGE_KEY)
if (remembered !== null && isUsername(remembered)) ui.username.value = remembered
const fromHash = toRoomName(decodeURIComponent(location.hash.slice(1)))
if (fromHash !== undefined) ui.loginRoom.value = fromHash
// Signed in until Sign out: a reload goes straight back to the conversation (the room in the URL, or general).
// After the whole module has run, so every listener and constant below is in place.
if (remembered !== null && isUsername(remembered)) queueMicrotask(() => start(remembered, fromHash ?? 'general'))

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const name = ui.username.value.trim()
  if (!isUsername(name)) {
    ui.loginError.textContent = 'Use 1-32 letters, digits or _ - . ~ (no spaces).'
    return
  }
  const room = toRoomName(ui.loginRoom.value || 'general')
  if (room === undefined) {
    ui.loginError.textContent = 'Room names use letters, digits and dashes.'
    return
  }
  ui.loginError.textContent = ''
  start(name, room)
})

// Closing the tab closes the connection on purpose (1000), so others see this user leave at once rather than
// after the server's grace period for dropped connections. A page restored from the back/forward cache starts over.
addEventListener('pagehide', () => void client?.close())
addEventListener('pageshow', (event) => {
  if (event.persisted) location.reload()
})

ui.signOut.addEventListener('click', () => {
  localStorage.removeItem(STORAGE_KEY)
  stop()
})

function start(name: string, room: string): void {
  me = name
  localStorage.setItem(STORAGE_KEY, name)
  ui.login.hidden = true
  ui.app.hidden = false
  ui.banner.hidden = true
  setStatus('connecting', 'Connecting…')
  ui.meName.textContent = name
  ui.meAvatar.replaceWith(Object.assign(avatar(name, true), { id: 'me-avatar' }))
  ui.meAvatar = byId('me-avatar')

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/parley`
  // The username is the token (see the server's authenticate); in a browser it travels as a subprotocol entry.
  client = createClient(url, { token: name, reconnect: { initialDelayMs: 250, maxDelayMs: 5_000 } })
  everOpen = false
  client.on('state', onState)
  client.on('reconnect', ({ attempt }) => setStatus('reconnecting', attempt > 1 ? `Reconnecting… (attempt ${attempt})` : 'Reconnecting…'))
  client.on('error', (error) => toast(error.message))
  client.on('direct', ({ data }) => toast(isChatMessage(data) ? data.text : 'The server sent a message.'))

  openRoom(room)
  void refreshRooms()
  void refreshStats()
  polls = [setInterval(() => void refreshRooms(), 3_000), setInterval(() => void refreshStats(), 2_000)]
}

function stop(): void {
  for (const timer of polls) clearInterval(timer)
  polls = []
  for (const view of views.values()) dispose(view)
  views.clear()
  active = undefined
  // Forget the client before closing it, so its final `closed` state is not reported as a lost connection.
  const closing = client
  client = undefined
  void closing?.close()
  ui.app.hidden = true
  ui.login.hidden = false
  ui.username.focus()
}

// ---------------------------------------------------------------------------------------------------------------
// Connection status

function setStatus(state: string, text: string): void {
  clearTimeout(statusTimer)
  ui.status.dataset['state'] = state
  ui.statusText.textContent = text
}

function onState(state: string): void {
  if (state === 'connecting') setStatus('connecting', 'Connecting…')
  else if (state === 'reconnecting') {
    setStatus('reconnecting', 'Reconnecting…')
    showBanner('warn', 'Connection lost. Reconnecting… Messages you send now are queued and go out when you are back.', 0)
  } else if (state === 'open') {
    // Which transport carries the connection: the HTTP stream when something on the way blocks WebSocket.
    const via = client?.transport === 'http-stream' ? ' · HTTP stream' : ''
    ui.status.dataset['transport'] = client?.transport ?? ''
    ui.status.title = client?.transport === 'http-stream' ? 'WebSocket is blocked on this network; connected over an HTTP stream' : 'Connected over WebSocket'
    setStatus('open', (everOpen ? 'Reconnected' : 'Connected') + via)
    if (everOpen) statusTimer = setTimeout(() => setStatus('open', `Connected${via}`), 6_000)
    everOpen = true
    void refreshStats()
    scheduleRoomsRefresh()
  } else if (state === 'closed' && client !== undefined) {
    setStatus('closed', 'Disconnected')
    showBanner('bad', 'Disconnected from the server. Reload the page to try again.', 0)
  }
}

function showBanner(tone: 'ok' | 'warn' | 'bad', text: string, hideAfterMs = 8_000): void {
  clearTimeout(bannerTimer)
  ui.banner.dataset['tone'] = tone
  ui.banner.textContent = text
  ui.banner.hidden = false
  if (hideAfterMs > 0) bannerTimer = setTimeout(() => (ui.banner.hidden = true), hideAfterMs)
}

// ---------------------------------------------------------------------------------------------------------------
// Rooms

function openRoom(name: string): void {
  if (client === undefined) return
  if (!views.has(name)) views.set(name, joinRoom(client, name))
  switchTo(name)
}

function joinRoom(owner: Client, name: string): RoomView {
  const room = owner.join<ChatMessage, Presence>(name, { presence: { client: 'web' } })
  const log = el('div', { className: 'log', data: { room: name } }, [
    el('div', { className: 'intro' }, [el('strong', { text: `#${name}` }), el('span', { text: 'This is the start of the conversation.' })]),
  ])
  log.hidden = true
  ui.logs.append(log)
  const view: RoomView = {
    name,
    room,
    log,
    seen: new Set(),
    mine: new Map(),
    people: new Map(),
    typing: new Map(),
    off: [],
    unread: 0,
    joinedOnce: false,
  }
  view.off.push(
    room.on('joined', ({ members }) => {
      const online = new Set(members.map((member) => member.user))
      for (const user of view.people.keys()) view.people.set(user, online.has(user))
      for (const user of online) view.people.set(user, true)
      if (!view.joinedOnce) notice(view, `You joined #${name}`)
      view.joinedOnce = true
      renderPeople()
      renderRooms()
      scheduleRoomsRefresh()
    }),
    room.on('recovery', (recovery) => onRecovery(view, recovery)),
    room.on('message', (message) => onMessage(view, message)),
    room.on('presence', ({ event, member }) => {
      if (event === 'join') view.people.set(member.user, true)
      if (event === 'leave') {
        view.people.set(member.user, false)
        clearTyping(view, member.user)
      }
      renderPeople()
      renderRooms()
      scheduleRoomsRefresh()
    }),
    room.on('typing', ({ user, typing }) => {
      if (user === me) return
      clearTimeout(view.typing.get(user))
      view.typing.delete(user)
      // The server also clears a typing signal when it expires; this timer only guards against a lost one.
      if (typing) view.typing.set(user, setTimeout(() => clearTyping(view, user), 8_000))
      renderTyping()
      renderPeople()
    }),
    room.on('error', (error) => toast(`#${name}: ${error.message}`)),
    room.on('left', ({ reason }) => {
      if (reason === 'leave') return removeView(view)
      // Removed by the server (an admin's /kick, a revoked permission): say so, and do not walk back in.
      const text = `You were removed from #${name}${reason ? ` (${reason})` : ''}`
      toast(text)
      showBanner('warn', `${text}. Pick or create another room to go on.`, 0)
      removeView(view, false)
    }),
  )
  return view
}

function onRecovery(view: RoomView, recovery: Recovery): void {
  const { recovered, replayed, gap } = recovery
  const data = { kind: 'recovery', recovered: String(recovered), reason: gap?.reason ?? 'none', replayed: String(replayed) }
  let text: string
  let tone: 'ok' | 'warn'
  if (recovered) {
    tone = 'ok'
    text = replayed === 0 ? 'Back online. You missed nothing.' : `Back online. Recovered ${replayed} missed message${replayed === 1 ? '' : 's'}.`
  } else if (gap?.reason === 'epoch-changed') {
    tone = 'warn'
    // Say what was lost, and only that: others' messages from the gap; what this user wrote is still on its way.
    const queued = [...view.mine.values()].filter((node) => node.classList.contains('pending')).length
    const own = queued === 0 ? '' : ` Your ${queued === 1 ? 'message' : `${queued} messages`} written meanwhile ${queued === 1 ? 'is' : 'are'} being sent.`
    text = `Back online. The server restarted and lost its history: messages others sent while you were away are gone${replayed > 0 ? ` (${replayed} newer one${replayed === 1 ? '' : 's'} recovered)` : ''}.${own}`
  } else {
    tone = 'warn'
    const missed = gap?.from !== undefined && gap.to !== undefined ? gap.to - gap.from + 1 : undefined
    text = `Back online. ${missed === undefined ? 'Some' : missed} older message${missed === 1 ? ' was' : 's were'} too old to recover; ${replayed} recovered.`
  }
  notice(view, text, tone, data)
  if (view.name === active) {
    showBanner(tone, text)
    setStatus('open', recovered ? (replayed > 0 ? `Recovered ${replayed}` : 'Reconnected') : 'Reconnected · history reset')
    statusTimer = setTimeout(() => setStatus('open', 'Connected'), 6_000)
  }
}

function switchTo(name: string): void {
  const previous = active === undefined ? undefined : views.get(active)
  if (previous !== undefined && previous.name !== name) stopTyping(previous)
  active = name
  for (const view of views.values()) view.log.hidden = view.name !== name
  const view = views.get(name)
  if (view !== undefined) view.unread = 0
  ui.roomTitle.textContent = name
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`)
  document.title = `#${name} · Parley Chat`
  ui.input.placeholder = `Message #${name}`
  renderRooms()
  renderPeople()
  renderTyping()
  scrollToEnd(true)
  ui.input.focus()
}

function leaveRoom(name: string): void {
  const view = views.get(name)
  if (view === undefined) return
  void view.room.leave()
}

function removeView(view: RoomView, reopenGeneral = true): void {
  dispose(view)
  views.delete(view.name)
  if (active === view.name) {
    const next = views.keys().next()
    if (next.done !== true) switchTo(next.value)
    else if (reopenGeneral) openRoom('general')
    else {
      active = undefined
      ui.roomTitle.textContent = ''
      ui.roomMembers.textContent = 'no room open'
      ui.people.replaceChildren()
      renderTyping()
      ui.input.placeholder = 'Pick or create a room'
      document.title = 'Parley Chat'
    }
  }
  renderRooms()
  scheduleRoomsRefresh()
}

function dispose(view: RoomView): void {
  for (const off of view.off) off()
  for (const timer of view.typing.values()) clearTimeout(timer)
  view.log.remove()
}

ui.newRoom.addEventListener('submit', (event) => {
  event.preventDefault()
  const name = toRoomName(ui.newRoomName.value)
  if (name === undefined) {
    toast('Room names use letters, digits and dashes.')
    return
  }
  ui.newRoomName.value = ''
  openRoom(name)
})

// ---------------------------------------------------------------------------------------------------------------
// Messages

function keyOf(message: RoomMessageEvent<unknown>): string {
  const data = message.data
  return isChatMessage(data) && data.mid !== undefined && message.from !== null ? `${message.from}/${data.mid}` : `${message.epoch}/${message.seq}`
}

function onMessage(view: RoomView, message: RoomMessageEvent<ChatMessage>): void {
  const key = keyOf(message)
  // The SDK never delivers a seq twice; this catches the one repeat it cannot see: a message that was in flight
  // when a server died, sent again to its replacement, which has a new epoch and no memory of the first copy.
  if (view.seen.has(key)) return
  view.seen.add(key)
  const data: unknown = message.data
  const chat = isChatMessage(data) ? data : undefined
  if (message.from !== null) clearTyping(view, message.from)
  const mine = chat?.mid === undefined || message.from !== me ? undefined : view.mine.get(chat.mid)
  if (mine !== undefined) {
    view.mine.delete(chat?.mid as string)
    mine.classList.remove('pending', 'failed')
    mine.dataset['seq'] = String(message.seq)
    mine.querySelector('.state')?.remove()
    return
  }
  append(view, messageNode(message.from, chat?.text ?? '[a message this page cannot show]', message.ts, { seq: message.seq }))
  if (view.name !== active && message.from !== me) {
    view.unread++
    renderRooms()
  }
}

function messageNode(from: string | null, text: string, ts: number, extra: { seq?: number; mid?: string }): HTMLElement {
  const author = from ?? 'server'
  const node = el('div', { className: from === null ? 'msg system' : from === me ? 'msg mine' : 'msg', data: { author, ts: String(ts) } }, [
    avatar(author),
    el('div', { className: 'meta' }, [el('span', { className: 'author', text: author }), el('span', { className: 'time', text: formatTime(ts), title: new Date(ts).toLocaleString() })]),
    el('div', { className: 'text', text }),
  ])
  if (extra.seq !== undefined) node.dataset['seq'] = String(extra.seq)
  if (extra.mid !== undefined) node.dataset['mid'] = extra.mid
  return node
}

function append(view: RoomView, node: HTMLElement): void {
  const last = view.log.lastElementChild as HTMLElement | null
  if (
    last?.classList.contains('msg') === true &&
    last.dataset['author'] === node.dataset['author'] &&
    Number(node.dataset['ts']) - Number(last.dataset['ts']) < GROUP_WINDOW_MS
  ) {
    node.classList.add('continued')
  }
  const stick = ui.logs.scrollHeight - ui.logs.scrollTop - ui.logs.clientHeight < 80
  view.log.append(node)
  if (view.name === active) scrollToEnd(stick || node.classList.contains('mine'))
}

function notice(view: RoomView, text: string, tone: 'info' | 'ok' | 'warn' = 'info', data: Record<string, string> = {}): void {
  view.log.append(el('div', { className: 'notice', text, data: { tone, ...data } }))
  if (view.name === active) scrollToEnd(true)
}

function scrollToEnd(force: boolean): void {
  if (force) ui.logs.scrollTop = ui.logs.scrollHeight
}

function send(view: RoomView, text: string, mid: string, node: HTMLElement): void {
  node.classList.remove('failed')
  node.classList.add('pending')
  setState(node, 'sending…')
  // The mid doubles as the publish id: a retry of the same message is de-duplicated by the server.
  view.room.publish({ text, mid }, { id: mid, timeoutMs: SEND_TIMEOUT_MS }).then(
    () => {
      // Delivered: the server's copy (echo) normally confirmed it already; after `echo: false` it would not come.
      if (view.mine.get(mid) === node && node.classList.contains('pending')) setState(node, 'sent')
    },
    (error: Error) => {
      if (view.mine.get(mid) !== node) return
      node.classList.remove('pending')
      node.classList.add('failed')
      setState(node, `Not sent (${error.message}). Click to retry.`).addEventListener('click', () => send(view, text, mid, node), { once: true })
    },
  )
}

function setState(node: HTMLElement, text: string): HTMLElement {
  let state = node.querySelector<HTMLElement>('.state')
  if (state === null) {
    state = el('div', { className: 'state' })
    node.append(state)
  }
  state.textContent = text
  return state
}

let midCounter = 0
function newMid(): string {
  return `${me}.${Date.now().toString(36)}.${(midCounter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault()
  const view = active === undefined ? undefined : views.get(active)
  const text = ui.input.value.trim()
  if (view === undefined || text === '') return
  if (text.length > MAX_TEXT_LENGTH) {
    toast(`Messages are at most ${MAX_TEXT_LENGTH} characters.`)
    return
  }
  ui.input.value = ''
  stopTyping(view)
  if (text.startsWith('/')) {
    void runAdminCommand(view.name, text)
    return
  }
  const mid = newMid()
  const node = messageNode(me, text, Date.now(), { mid })
  view.mine.set(mid, node)
  append(view, node)
  send(view, text, mid, node)
})

/** An admin command (`/kick bob`): the server checks the role, runs it, and tells the room with a system line. */
async function runAdminCommand(room: string, command: string): Promise<void> {
  try {
    const response = await fetch('/api/admin', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${me}` },
      body: JSON.stringify({ room, command }),
    })
    const result = (await response.json()) as { ok: boolean; message: string }
    toast(result.message)
  } catch {
    toast('The command could not be sent; try again.')
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Drawers (narrow screens): the rooms list and the people list slide in over the conversation.

function setDrawer(drawer: 'rooms' | 'people' | undefined): void {
  if (drawer === undefined) delete ui.app.dataset['drawer']
  else ui.app.dataset['drawer'] = drawer
  ui.toggleRooms.setAttribute('aria-expanded', String(drawer === 'rooms'))
  ui.togglePeople.setAttribute('aria-expanded', String(drawer === 'people'))
}
// On a phone the header has no room for Sign out: the rooms drawer has it.
byId<HTMLButtonElement>('sign-out-drawer').addEventListener('click', () => {
  setDrawer(undefined)
  ui.signOut.click()
})
ui.toggleRooms.addEventListener('click', () => setDrawer(ui.app.dataset['drawer'] === 'rooms' ? undefined : 'rooms'))
ui.togglePeople.addEventListener('click', () => setDrawer(ui.app.dataset['drawer'] === 'people' ? undefined : 'people'))
// Picking a room, or going back to the conversation, closes the drawer.
ui.rooms.addEventListener('click', () => setDrawer(undefined))
ui.logs.addEventListener('click', () => setDrawer(undefined))
ui.input.addEventListener('focus', () => setDrawer(undefined))

// ---------------------------------------------------------------------------------------------------------------
// Typing

ui.input.addEventListener('input', () => {
  const view = active === undefined ? undefined : views.get(active)
  if (view === undefined) return
  if (ui.input.value.trim() === '') return stopTyping(view)
  // The SDK coalesces repeated calls and refreshes the signal while typing goes on.
  view.room.typing(true)
  clearTimeout(typingIdle)
  typingIdle = setTimeout(() => stopTyping(view), TYPING_IDLE_MS)
})

function stopTyping(view: RoomView): void {
  clearTimeout(typingIdle)
  view.room.typing(false)
}

function clearTyping(view: RoomView, user: string): void {
  if (!view.typing.has(user)) return
  clearTimeout(view.typing.get(user))
  view.typing.delete(user)
  if (view.name === active) {
    renderTyping()
    renderPeople()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering (textContent only)

function renderTyping(): void {
  const view = active === undefined ? undefined : views.get(active)
  ui.typing.textContent = view === undefined ? '' : typingLine([...view.typing.keys()].sort())
}

function renderPeople(): void {
  const view = active === undefined ? undefined : views.get(active)
  if (view === undefined) return
  const people = [...view.people.entries()].sort(([a, aOnline], [b, bOnline]) => Number(bOnline) - Number(aOnline) || a.localeCompare(b))
  const online = people.filter(([, isOnline]) => isOnline).length
  ui.roomMembers.textContent = `${online} online`
  ui.people.replaceChildren(
    ...people.map(([user, isOnline]) =>
      el('li', { data: { user, online: String(isOnline) } }, [
        avatar(user, true),
        el('span', { className: 'person', text: user === me ? `${user} (you)` : user }),
        view.typing.has(user)
          ? el('span', { className: 'typing-dots', text: 'typing…' })
          : el('span', { className: 'presence', text: isOnline ? 'online' : 'offline' }),
      ]),
    ),
  )
}

function renderRooms(): void {
  const counts = new Map(activeRooms.map(({ room, members }) => [room, members]))
  for (const view of views.values()) {
    counts.set(view.name, [...view.people.values()].filter(Boolean).length || (counts.get(view.name) ?? 0))
  }
  const names = [...counts.keys()].sort((a, b) => Number(views.has(b)) - Number(views.has(a)) || (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a.localeCompare(b))
  ui.rooms.replaceChildren(
    ...names.map((name) => {
      const view = views.get(name)
      const item = el('li', { title: view === undefined ? `Join #${name}` : `#${name}`, data: { room: name, joined: String(view !== undefined), active: String(name === active) } }, [
        el('span', { className: 'room-name', text: name }),
      ])
      if (view !== undefined && view.unread > 0) item.append(el('span', { className: 'unread', text: String(view.unread) }))
      item.append(el('span', { className: 'count', text: String(counts.get(name) ?? 0), title: 'members online' }))
      if (view !== undefined) {
        const leave = el('button', { className: 'leave', text: '×', title: `Leave #${name}` })
        leave.type = 'button'
        leave.addEventListener('click', (event) => {
          event.stopPropagation()
          leaveRoom(name)
        })
        item.append(leave)
      }
      item.addEventListener('click', () => openRoom(name))
      return item
    }),
  )
}

// ---------------------------------------------------------------------------------------------------------------
// Polling: active rooms and server stats

function scheduleRoomsRefresh(): void {
  clearTimeout(roomsRefresh)
  roomsRefresh = setTimeout(() => void refreshRooms(), 300)
}

async function refreshRooms(): Promise<void> {
  try {
    const response = await fetch('/api/rooms', { cache: 'no-store' })
    if (!response.ok) return
    const body = (await response.json()) as { rooms?: Array<{ room: string; members: number }> }
    activeRooms = (body.rooms ?? []).filter((entry) => toRoomName(entry.room) === entry.room && Number.isInteger(entry.members))
    renderRooms()
  } catch {
    // The server is away; the connection status already says so.
  }
}

async function refreshStats(): Promise<void> {
  try {
    const response = await fetch('/api/stats', { cache: 'no-store' })
    if (!response.ok) throw new Error(String(response.status))
    const stats = (await response.json()) as Record<string, unknown>
    for (const node of Array.from(ui.stats.querySelectorAll<HTMLElement>('dd[data-stat]'))) {
      const name = node.dataset['stat'] as string
      const value = name === 'uptime' ? stats['uptimeMs'] : stats[name]
      if (typeof value === 'number') node.textContent = name === 'uptime' ? formatDuration(value) : formatCount(value)
    }
    ui.stats.dataset['stale'] = 'false'
    ui.statsAge.textContent = '· live'
  } catch {
    ui.stats.dataset['stale'] = 'true'
    ui.statsAge.textContent = '· unreachable'
  }
}
