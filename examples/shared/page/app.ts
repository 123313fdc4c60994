/**
 * The chat page: one Parley client with the chat's contract (../chat-contract.ts: typed rooms and requests, and
 * what arrives is checked), one room handle per joined room, plain DOM. Bundled by esbuild at server start-up (see
 * ../chat-server.ts). Everything people send is shown with `textContent` (see ./dom.ts).
 */
import { AuthError, createClient, ParleyClientError, type Client, type HistoryPage, type Room, type RoomMessageEvent } from '@parley/client-sdk'
import type { HistoryGap, Recovery, ResumePoint } from '@parley/protocol'
import type { IssuedToken } from '../chat-auth.js'
import { chatTokenOptions, requestChatToken } from '../chat-login.js'
import { chatContract, isChatImage, isChatMessage, isChatReaction, type ChatContract, type ChatPresence, type ChatReaction, type ChatRoomMessage } from '../chat-contract.js'
import { MAX_IMAGE_BYTES, MAX_TEXT_LENGTH, REACTIONS, imageTypeOf, isUsername, toRoomName, type Reaction } from '../chat-rules.js'
import { avatar, byId, el, formatCount, formatDuration, formatWhen, highlighted, searchWords, toast, typingLine } from './dom.js'

/**
 * Where paging back through a room's history stands: `waiting` for the join's last messages, `idle` with older
 * ones to load on scroll, `loading` them, `failed` (with a retry), `start` (nothing older exists), `unavailable`
 * (the server has none to give).
 */
type OlderState = 'waiting' | 'idle' | 'loading' | 'failed' | 'start' | 'unavailable'

interface RoomView {
  readonly name: string
  readonly room: Room<ChatRoomMessage, ChatPresence, boolean>
  readonly log: HTMLDivElement
  /** The top of the log: the start-of-conversation intro and the row that says older messages are loading. */
  readonly head: HTMLDivElement
  readonly intro: HTMLDivElement
  readonly loader: HTMLDivElement
  older: OlderState
  /** The oldest message shown (live or from history): the next older page is read from before it. */
  oldest: ResumePoint | undefined
  /**
   * Messages on the page, by `<epoch>/<seq>` and, for the chat's own messages, `<from>/<mid>`: what makes a message
   * show once, however the join's page, live messages and older pages overlap.
   */
  readonly seen: Set<string>
  /** Gaps already shown, by `<epoch>/<from>-<to>` (two adjacent pages may both name one). */
  readonly gaps: Set<string>
  /** This tab's own messages by mid, shown at once and confirmed when the server's copy arrives. */
  readonly mine: Map<string, HTMLElement>
  /**
   * Reactions by message (`<epoch>/<seq>`), emoji and user: whether that user's reaction is on, and the position of
   * the reaction message that said so. The newest says (older pages arrive after newer messages), so a user counts
   * once however often they toggled.
   */
  readonly reactions: Map<string, Map<Reaction, Map<string, { on: boolean; at: ResumePoint }>>>
  /** Everyone seen in the room: true while online. */
  readonly people: Map<string, boolean>
  /** Who is typing, each with a safety timer in case the "stopped" signal never comes. */
  readonly typing: Map<string, ReturnType<typeof setTimeout>>
  readonly off: Array<() => void>
  unread: number
  joinedOnce: boolean
}

/** Where the signed-in username is kept, so a reload signs in again (the token itself is kept only in memory). */
const STORAGE_KEY = 'parley-chat:username'
/** A message sent while offline waits this long for the server before it is shown as not sent. */
const SEND_TIMEOUT_MS = 30_000
const TYPING_IDLE_MS = 3_000
const GROUP_WINDOW_MS = 5 * 60_000
/** Messages a room opens with, and each older page loaded when scrolling up. */
const HISTORY_PAGE = 50
/** Older messages start loading when the reader is this close to the top of the list (px). */
const LOAD_OLDER_WITHIN_PX = 240
/** Search matches per page of results. */
const SEARCH_PAGE = 50

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
  attach: byId<HTMLButtonElement>('attach'),
  imageInput: byId<HTMLInputElement>('image-input'),
  people: byId<HTMLUListElement>('people'),
  toggleRooms: byId<HTMLButtonElement>('toggle-rooms'),
  togglePeople: byId<HTMLButtonElement>('toggle-people'),
  searchToggle: byId<HTMLButtonElement>('search-toggle'),
  searchForm: byId<HTMLFormElement>('search-form'),
  searchInput: byId<HTMLInputElement>('search-input'),
  searchClose: byId<HTMLButtonElement>('search-close'),
  searchPanel: byId('search-panel'),
  searchSummary: byId('search-summary'),
  searchResults: byId<HTMLOListElement>('search-results'),
  searchMore: byId('search-more'),
}

let client: Client<ChatContract> | undefined
let me = ''
/** The newest token of the signed-in user: what the client sends in band, and what admin commands carry. */
let current: IssuedToken | undefined
let signingIn = false
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
// Signed in until Sign out: a reload signs in again and goes straight back to the conversation (the room in the
// URL, or general). The form stays hidden meanwhile, and shows with the reason if that fails. After the whole
// module has run, so every listener and constant below is in place.
if (remembered !== null && isUsername(remembered)) {
  ui.login.hidden = true
  queueMicrotask(() => void signIn(remembered, fromHash ?? 'general'))
}

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
  void signIn(name, room)
})

/** Signs in as `name` and opens the chat in `room`; a refusal or an unreachable server is told on the form. */
async function signIn(name: string, room: string): Promise<void> {
  if (signingIn || client !== undefined) return
  signingIn = true
  let first: IssuedToken
  try {
    first = await requestChatToken('/api/login', name)
  } catch (error) {
    ui.login.hidden = false
    ui.loginError.textContent = error instanceof AuthError ? error.message : 'The server cannot be reached; try again.'
    return
  } finally {
    signingIn = false
  }
  start(first, room)
}

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

function start(first: IssuedToken, room: string): void {
  const name = first.user
  me = name
  current = first
  localStorage.setItem(STORAGE_KEY, name)
  ui.login.hidden = true
  ui.app.hidden = false
  ui.banner.hidden = true
  setStatus('connecting', 'Connecting…')
  ui.meName.textContent = name
  ui.meAvatar.replaceWith(Object.assign(avatar(name, true), { id: 'me-avatar' }))
  ui.meAvatar = byId('me-avatar')

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/parley`
  // The sign-in's token opens the connection (in a browser it travels as a subprotocol entry). `getToken` signs in
  // again for a fresh one before each reconnect and, `refreshBeforeMs` ahead of each token's expiry, for one the
  // client sends in band, so the session stays up; the server would close it with 4419 when the old one expires.
  // The contract types `join()` and `request()`, and the client checks every message, presence and typing signal
  // that arrives against it: one that breaks it is reported as the room's `error`, never shown.
  const owner: Client<ChatContract> = createClient(url, {
    ...chatTokenOptions(first, async () => {
      const next = await requestChatToken('/api/login', name)
      if (client === owner) current = next
      return next
    }),
    contract: chatContract,
    reconnect: { initialDelayMs: 250, maxDelayMs: 5_000 },
  })
  client = owner
  everOpen = false
  client.on('state', onState)
  client.on('reconnect', ({ attempt }) => setStatus('reconnecting', attempt > 1 ? `Reconnecting… (attempt ${attempt})` : 'Reconnecting…'))
  client.on('error', (error) => toast(error.message))
  client.on('direct', ({ data }) => toast(isChatMessage(data) ? data.text : 'The server sent a message.'))

  openRoom(room)
  void refreshStats()
  polls = [setInterval(() => void refreshRooms(), 3_000), setInterval(() => void refreshStats(), 2_000)]
}

function stop(): void {
  closeSearch()
  for (const timer of polls) clearInterval(timer)
  polls = []
  for (const view of views.values()) dispose(view)
  views.clear()
  active = undefined
  // Forget the client before closing it, so its final `closed` state is not reported as a lost connection.
  const closing = client
  client = undefined
  current = undefined
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

function joinRoom(owner: Client<ChatContract>, name: string): RoomView {
  // The room's last messages come first, as one `history` event, then live ones: a reload shows the conversation.
  const room = owner.join(name, { presence: { client: 'web' }, last: HISTORY_PAGE })
  const intro = el('div', { className: 'intro' }, [el('strong', { text: `#${name}` }), el('span', { text: 'This is the start of the conversation.' })])
  intro.hidden = true
  const loader = el('div', { className: 'history-row' })
  const head = el('div', { className: 'log-head' }, [intro, loader])
  const log = el('div', { className: 'log', data: { room: name } }, [head])
  log.hidden = true
  ui.logs.append(log)
  const view: RoomView = {
    name,
    room,
    log,
    head,
    intro,
    loader,
    older: 'waiting',
    oldest: undefined,
    seen: new Set(),
    gaps: new Set(),
    mine: new Map(),
    reactions: new Map(),
    people: new Map(),
    typing: new Map(),
    off: [],
    unread: 0,
    joinedOnce: false,
  }
  setOlder(view, 'waiting')
  view.off.push(
    room.on('joined', ({ members }) => {
      const online = new Set(members.map((member) => member.user))
      for (const user of view.people.keys()) view.people.set(user, online.has(user))
      for (const user of online) view.people.set(user, true)
      if (!view.joinedOnce) notice(view, `You joined #${name}`)
      // A server without history sends no page for `last`: there is nothing to wait for.
      if (view.older === 'waiting' && owner.welcome?.capabilities.includes('history') !== true) {
        setOlder(view, 'unavailable', 'Messages from before you joined are not kept by this server.')
      } else if (view.older === 'waiting' && view.joinedOnce) {
        // A re-join resumes instead of asking for `last` again: the first page was lost with the connection that
        // was to bring it. Read it now.
        setOlder(view, 'idle')
        void loadOlder(view)
      }
      view.joinedOnce = true
      renderPeople()
      renderRooms()
      scheduleRoomsRefresh()
    }),
    room.on('recovery', (recovery) => onRecovery(view, recovery)),
    room.on('history', (page) => addPage(view, page)),
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
    // A large room (over the server's presence.countAbove) says how many came and went, not who: the header follows.
    room.on('count', () => {
      renderPeople()
      renderRooms()
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
    room.on('error', (error) => {
      // The join stands without its page (the history store is down): say so where the messages would be.
      if (view.older === 'waiting' && error.code === 'HISTORY_UNAVAILABLE') return setOlder(view, 'failed', `Earlier messages could not be loaded: ${error.message}`)
      toast(`#${name}: ${error.message}`)
    }),
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
  // Search is of one room: going to another ends it.
  if (active !== name) closeSearch()
  active = name
  for (const view of views.values()) view.log.hidden = view.name !== name
  const view = views.get(name)
  if (view !== undefined) view.unread = 0
  ui.roomTitle.textContent = name
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`)
  document.title = `#${name} · Parley Chat`
  ui.input.placeholder = `Message #${name}`
  ui.searchInput.placeholder = `Search #${name}`
  renderRooms()
  renderPeople()
  renderTyping()
  scrollToEnd(true)
  if (view !== undefined) loadOlderIfNeeded(view)
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
      ui.searchInput.placeholder = 'Search'
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

/**
 * Records a message as shown; false when it is already. The SDK never delivers a seq twice, but the join's page,
 * live messages and older pages meet at their edges, and one repeat has a new seq: a message that was in flight
 * when a server died, sent again to its replacement (new epoch, no memory of the first copy), has the same mid.
 */
function firstSighting(view: RoomView, message: RoomMessageEvent<unknown>): boolean {
  const data = message.data
  const keys = [`${message.epoch}/${message.seq}`]
  if (isChatMessage(data) && data.mid !== undefined && message.from !== null) keys.push(`${message.from}/${data.mid}`)
  if (keys.some((key) => view.seen.has(key))) return false
  for (const key of keys) view.seen.add(key)
  return true
}

/** Confirms this tab's own message, shown since it was sent, when the server's copy arrives; false if not ours. */
function confirmMine(view: RoomView, message: RoomMessageEvent<unknown>): boolean {
  const data = message.data
  const mid = isChatMessage(data) && message.from === me ? data.mid : undefined
  const node = mid === undefined ? undefined : view.mine.get(mid)
  if (mid === undefined || node === undefined) return false
  view.mine.delete(mid)
  node.classList.remove('pending', 'failed')
  node.dataset['seq'] = String(message.seq)
  node.dataset['epoch'] = message.epoch
  node.querySelector('.state')?.remove()
  // Confirmed, it has a position others can react to.
  renderReactions(view, node)
  return true
}

function onMessage(view: RoomView, message: RoomMessageEvent<ChatRoomMessage>): void {
  if (!firstSighting(view, message)) return
  view.oldest ??= { epoch: message.epoch, seq: message.seq }
  if (isChatReaction(message.data)) {
    const node = applyReaction(view, message.from, message.data, message)
    if (node !== undefined) renderReactions(view, node)
    return
  }
  if (message.from !== null) clearTyping(view, message.from)
  if (confirmMine(view, message)) return
  append(view, roomMessageNode(view, message))
  if (view.name !== active && message.from !== me) {
    view.unread++
    renderRooms()
  }
}

function roomMessageNode(view: RoomView, message: RoomMessageEvent<unknown>): HTMLElement {
  const data = message.data
  const image = isChatImage(data) && message.bytes !== undefined ? imageNode(data.image.name, data.image.type, message.bytes) : undefined
  const text = isChatMessage(data) ? data.text : image !== undefined ? '' : '[a message this page cannot show]'
  const node = messageNode(message.from, text, message.ts, { seq: message.seq, epoch: message.epoch })
  if (image !== undefined) node.querySelector('.text')?.replaceWith(image)
  // Reactions to it may have come first: its older page loads after the newer reactions arrived live.
  renderReactions(view, node)
  return node
}

// ---------------------------------------------------------------------------------------------------------------
// Reactions: room messages of their own (chat-contract.ts), counted per message, one per user and emoji

/**
 * Records a reaction; returns the node of the message it names when that is on the page (so the caller can show
 * it). Ignored when it is older than what that user last said about that emoji there.
 */
function applyReaction(view: RoomView, from: string | null, data: ChatReaction, at: ResumePoint): HTMLElement | undefined {
  if (from === null) return undefined
  const { epoch, seq, emoji, on } = data.reaction
  const key = `${epoch}/${seq}`
  let byEmoji = view.reactions.get(key)
  if (byEmoji === undefined) view.reactions.set(key, (byEmoji = new Map()))
  let users = byEmoji.get(emoji)
  if (users === undefined) byEmoji.set(emoji, (users = new Map()))
  const last = users.get(from)
  // Within an epoch a higher seq is newer; a reaction from another epoch (after a restart) counts as newer.
  if (last === undefined || last.at.epoch !== at.epoch || last.at.seq < at.seq) users.set(from, { on, at: { epoch: at.epoch, seq: at.seq } })
  return messageNodeAt(view, epoch, seq)
}

function messageNodeAt(view: RoomView, epoch: string, seq: number): HTMLElement | undefined {
  const node = view.log.querySelector(`.msg[data-epoch="${CSS.escape(epoch)}"][data-seq="${seq}"]`)
  return node instanceof HTMLElement ? node : undefined
}

/** Who reacted to the message at `key` with `emoji`, oldest first. */
function reactors(view: RoomView, key: string, emoji: Reaction): string[] {
  return [...(view.reactions.get(key)?.get(emoji) ?? new Map<string, { on: boolean }>())].filter(([, state]) => state.on).map(([user]) => user)
}

/** (Re)draws a message's reaction row: a chip per emoji someone chose, with the count, then the add button. */
function renderReactions(view: RoomView, node: HTMLElement): void {
  const { epoch, seq } = node.dataset
  if (epoch === undefined || seq === undefined || node.classList.contains('system')) return
  const key = `${epoch}/${seq}`
  const chips: HTMLElement[] = []
  for (const emoji of REACTIONS) {
    const users = reactors(view, key, emoji)
    if (users.length === 0) continue
    const chip = el('button', { className: 'chip', title: users.join(', '), data: { emoji } }, [el('span', { className: 'emoji', text: emoji }), document.createTextNode(` ${users.length}`)])
    chip.setAttribute('type', 'button')
    chip.setAttribute('aria-pressed', String(users.includes(me)))
    chip.setAttribute('aria-label', `${emoji} ${users.length}: ${users.join(', ')}`)
    chip.addEventListener('click', () => react(view, epoch, Number(seq), emoji))
    chips.push(chip)
  }
  const add = el('button', { className: 'react-add', text: '☺+', title: 'Add a reaction' })
  add.setAttribute('type', 'button')
  add.setAttribute('aria-label', 'Add a reaction')
  const picker = el(
    'div',
    { className: 'picker' },
    REACTIONS.map((emoji) => {
      const option = el('button', { className: 'pick', text: emoji, title: emoji, data: { emoji } })
      option.setAttribute('type', 'button')
      option.addEventListener('click', () => {
        picker.hidden = true
        react(view, epoch, Number(seq), emoji)
      })
      return option
    }),
  )
  picker.hidden = true
  add.addEventListener('click', () => (picker.hidden = !picker.hidden))
  const row = el('div', { className: chips.length === 0 ? 'reactions empty' : 'reactions' }, [...chips, add, picker])
  const existing = node.querySelector(':scope > .reactions')
  if (existing === null) node.append(row)
  else existing.replaceWith(row)
}

// An open reaction picker closes on Escape or a click anywhere outside its message's reaction row.
document.addEventListener('click', (event) => {
  document.querySelectorAll<HTMLElement>('.picker:not([hidden])').forEach((picker) => {
    if (!(event.target instanceof Node) || !picker.parentElement?.contains(event.target)) picker.hidden = true
  })
})
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') document.querySelectorAll<HTMLElement>('.picker:not([hidden])').forEach((picker) => (picker.hidden = true))
})

/** Puts this user's `emoji` on the message, or takes it off when it is there: a room message like any other. */
function react(view: RoomView, epoch: string, seq: number, emoji: Reaction): void {
  const on = !reactors(view, `${epoch}/${seq}`, emoji).includes(me)
  view.room.publish({ reaction: { epoch, seq, emoji, on } }).catch((error: Error) => toast(`The reaction was not sent: ${error.message}`))
}

/**
 * An image message's picture, from its bytes: a `blob:` URL of exactly those bytes, typed as the server checked they
 * are (never a URL taken from the message, so nothing a sender writes is loaded from elsewhere). The URL is let go once
 * the picture has loaded; the page keeps showing it.
 */
function imageNode(name: string, type: string, bytes: Uint8Array): HTMLElement {
  // A copy typed as one ArrayBuffer's view, as Blob wants; 96 KB at most.
  const url = URL.createObjectURL(new Blob([bytes.slice()], { type }))
  const img = el('img')
  img.alt = name
  img.decoding = 'async'
  img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true })
  img.addEventListener('error', () => URL.revokeObjectURL(url), { once: true })
  img.src = url
  return el('figure', { className: 'image' }, [img, el('figcaption', { text: `${name} · ${formatBytes(bytes.byteLength)}` })])
}

function formatBytes(size: number): string {
  return size < 1024 ? `${size} B` : `${(size / 1024).toFixed(size < 10 * 1024 ? 1 : 0)} KB`
}

// Sharing an image: the file's own bytes, checked here for a friendly message (the server checks them again).
ui.attach.addEventListener('click', () => ui.imageInput.click())
ui.imageInput.addEventListener('change', () => {
  const file = ui.imageInput.files?.[0]
  ui.imageInput.value = ''
  const view = active === undefined ? undefined : views.get(active)
  if (file === undefined || view === undefined) return
  void shareImage(view, file)
})

async function shareImage(view: RoomView, file: File): Promise<void> {
  if (file.size > MAX_IMAGE_BYTES) {
    toast(`Images are at most ${formatBytes(MAX_IMAGE_BYTES)}; ${file.name} is ${formatBytes(file.size)}.`)
    return
  }
  const bytes = new Uint8Array(await file.arrayBuffer())
  const type = imageTypeOf(bytes)
  if (type === undefined) {
    toast(`${file.name} is not a PNG, JPEG, GIF or WebP image.`)
    return
  }
  const name = file.name.slice(0, 100) || 'image'
  view.room.publish({ image: { type, name, size: bytes.byteLength } }, { bytes, timeoutMs: SEND_TIMEOUT_MS }).catch((error: Error) => toast(`The image was not sent: ${error.message}`))
}

function messageNode(from: string | null, text: string, ts: number, extra: { seq?: number; epoch?: string; mid?: string }): HTMLElement {
  const author = from ?? 'server'
  const node = el('div', { className: from === null ? 'msg system' : from === me ? 'msg mine' : 'msg', data: { author, ts: String(ts) } }, [
    avatar(author),
    el('div', { className: 'meta' }, [el('span', { className: 'author', text: author }), el('span', { className: 'time', text: formatWhen(ts), title: new Date(ts).toLocaleString() })]),
    el('div', { className: 'text', text }),
  ])
  if (extra.seq !== undefined) node.dataset['seq'] = String(extra.seq)
  if (extra.epoch !== undefined) node.dataset['epoch'] = extra.epoch
  if (extra.mid !== undefined) node.dataset['mid'] = extra.mid
  return node
}

/** Folds a message under the one before it (no avatar, no name) when the same author wrote both within minutes. */
function group(node: Element): void {
  if (!(node instanceof HTMLElement) || !node.classList.contains('msg')) return
  const previous = node.previousElementSibling
  const gap = previous instanceof HTMLElement ? Number(node.dataset['ts']) - Number(previous.dataset['ts']) : NaN
  const continued = previous instanceof HTMLElement && previous.classList.contains('msg') && previous.dataset['author'] === node.dataset['author'] && gap >= 0 && gap < GROUP_WINDOW_MS
  node.classList.toggle('continued', continued)
}

function append(view: RoomView, node: HTMLElement): void {
  const stick = nearEnd()
  view.log.append(node)
  group(node)
  if (view.name === active) scrollToEnd(stick || node.classList.contains('mine'))
}

function noticeNode(text: string, tone: 'info' | 'ok' | 'warn' = 'info', data: Record<string, string> = {}): HTMLElement {
  return el('div', { className: 'notice', text, data: { tone, ...data } })
}

function notice(view: RoomView, text: string, tone: 'info' | 'ok' | 'warn' = 'info', data: Record<string, string> = {}): void {
  view.log.append(noticeNode(text, tone, data))
  if (view.name === active) scrollToEnd(true)
}

function nearEnd(): boolean {
  return ui.logs.scrollHeight - ui.logs.scrollTop - ui.logs.clientHeight < 80
}

function scrollToEnd(force: boolean): void {
  if (force) ui.logs.scrollTop = ui.logs.scrollHeight
}

// ---------------------------------------------------------------------------------------------------------------
// History: the join's last messages, older pages on scrolling up

/**
 * Runs `change` (DOM above what the reader looks at: an older page, the loading row) and keeps the reader's place:
 * the list stays at its end if it was there, otherwise the oldest item shown before stays where it was on screen.
 * (Done by hand, with CSS scroll anchoring off, so it behaves the same at the very top, where browsers do not anchor.)
 */
function keepInPlace(view: RoomView, change: () => void): void {
  if (view.name !== active) return change()
  const atEnd = nearEnd()
  const anchor = view.head.nextElementSibling
  const top = anchor?.getBoundingClientRect().top
  change()
  if (atEnd) scrollToEnd(true)
  else if (anchor != null && top !== undefined) ui.logs.scrollTop += anchor.getBoundingClientRect().top - top
}

/**
 * Shows where paging back stands at the top of the list. The row keeps its height from `idle` to `loading`, so the
 * spinner appears without moving anything; the intro replaces it at the start.
 */
function setOlder(view: RoomView, state: OlderState, text = ''): void {
  const change = (): void => {
    view.older = state
    view.intro.hidden = state !== 'start'
    view.loader.dataset['state'] = state
    const busy = state === 'waiting' || state === 'loading'
    view.loader.hidden = state === 'start'
    const children: Node[] = []
    if (busy) children.push(el('span', { className: 'spinner' }), el('span', { text: state === 'waiting' ? 'Loading messages…' : 'Loading older messages…' }))
    else if (text !== '') children.push(el('span', { text }))
    if (state === 'failed') {
      const retry = el('button', { className: 'link', text: 'Try again' })
      retry.type = 'button'
      retry.addEventListener('click', () => void loadOlder(view))
      children.push(retry)
    }
    view.loader.replaceChildren(...children)
  }
  // On screen (the reader is at the top), a row that grows (an error) pushes the messages down where the reader sees
  // it; out of sight, the reader's place is kept.
  const head = view.head.getBoundingClientRect()
  if (view.name === active && head.bottom > ui.logs.getBoundingClientRect().top) change()
  else keepInPlace(view, change)
}

/**
 * Shows a page of history above everything shown so far, oldest first, skipping messages already shown, with a
 * muted line where the server's history lacks messages (`gaps`).
 */
function addPage(view: RoomView, page: HistoryPage<ChatRoomMessage>): void {
  const { messages } = page
  const gapsAt = new Map<number, HistoryGap[]>()
  for (const gap of page.gaps) {
    const key = `${gap.epoch}/${gap.from}-${gap.to}`
    if (view.gaps.has(key)) continue
    view.gaps.add(key)
    const at = gapIndex(messages, gap)
    gapsAt.set(at, [...(gapsAt.get(at) ?? []), gap])
  }
  const nodes: HTMLElement[] = []
  const touched = new Set<HTMLElement>()
  for (let i = 0; i <= messages.length; i++) {
    for (const gap of gapsAt.get(i) ?? []) {
      const missing = gap.to - gap.from + 1
      nodes.push(noticeNode(`${missing} message${missing === 1 ? '' : 's'} could not be stored`, 'info', { kind: 'gap' }))
    }
    const message = messages[i]
    if (message === undefined || !firstSighting(view, message)) continue
    if (isChatReaction(message.data)) {
      const target = applyReaction(view, message.from, message.data, message)
      if (target !== undefined) touched.add(target)
      continue
    }
    if (confirmMine(view, message)) continue
    nodes.push(roomMessageNode(view, message))
  }
  // Reactions in this page to messages already shown (the page's own messages drew theirs when made).
  for (const node of touched) renderReactions(view, node)
  for (const node of nodes) renderReactions(view, node)
  const first = messages[0]
  if (first !== undefined) view.oldest = { epoch: first.epoch, seq: first.seq }
  keepInPlace(view, () => {
    if (nodes.length > 0) {
      view.head.after(...nodes)
      for (const node of nodes) group(node)
      const next = (nodes[nodes.length - 1] as HTMLElement).nextElementSibling
      if (next !== null) group(next)
    }
  })
  setOlder(view, page.more ? 'idle' : 'start')
  loadOlderIfNeeded(view)
}

/** Where in a page (oldest first) a gap goes: before the first message after it, else after its epoch's last. */
function gapIndex(messages: readonly ResumePoint[], gap: HistoryGap): number {
  let after = messages.length
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as ResumePoint
    if (message.epoch !== gap.epoch) continue
    if (message.seq > gap.to) return i
    after = i + 1
  }
  return after
}

async function loadOlder(view: RoomView): Promise<void> {
  if (view.older !== 'idle' && view.older !== 'failed') return
  setOlder(view, 'loading')
  let page: HistoryPage<ChatRoomMessage>
  try {
    page = await view.room.history({ before: view.oldest, limit: HISTORY_PAGE })
  } catch (error) {
    if (views.get(view.name) !== view) return
    const code = error instanceof ParleyClientError ? error.code : undefined
    // A position of an epoch the server no longer has (it restarted and lost its history): retrying cannot help.
    if (code === 'HISTORY_CURSOR_INVALID') setOlder(view, 'unavailable', 'Older messages are no longer available.')
    else setOlder(view, 'failed', `Older messages could not be loaded: ${(error as Error).message}`)
    return
  }
  if (views.get(view.name) === view) addPage(view, page)
}

/** Loads older messages when the reader is near the top of the list, or the list does not fill the screen yet. */
function loadOlderIfNeeded(view: RoomView): void {
  // Not while search results hide the list: a hidden list reads as scrolled to the top.
  if (view.name !== active || view.older !== 'idle' || ui.app.dataset['search'] === 'results') return
  if (ui.logs.scrollTop < LOAD_OLDER_WITHIN_PX) void loadOlder(view)
}

ui.logs.addEventListener(
  'scroll',
  () => {
    const view = active === undefined ? undefined : views.get(active)
    if (view !== undefined) loadOlderIfNeeded(view)
  },
  { passive: true },
)

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
      headers: { 'content-type': 'application/json', authorization: `Bearer ${current?.token ?? ''}` },
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
// Search in the open room: results replace the conversation until Escape or ×.

/** Counts searches, so the answer to one replaced by a newer one is dropped. */
let searchRun = 0
/** Where the conversation was scrolled when results replaced it, to return there (a hidden list forgets it). */
let conversationScroll: { top: number; atEnd: boolean } | undefined

function openSearch(): void {
  if (ui.app.dataset['search'] === undefined) ui.app.dataset['search'] = 'open'
  ui.searchToggle.setAttribute('aria-expanded', 'true')
  ui.searchInput.focus()
}

function closeSearch(): void {
  searchRun++
  delete ui.app.dataset['search']
  ui.searchToggle.setAttribute('aria-expanded', 'false')
  ui.searchInput.value = ''
  ui.searchPanel.hidden = true
  ui.searchResults.replaceChildren()
  ui.searchMore.replaceChildren()
  ui.searchSummary.textContent = ''
  if (conversationScroll !== undefined) {
    if (conversationScroll.atEnd) scrollToEnd(true)
    else ui.logs.scrollTop = conversationScroll.top
    conversationScroll = undefined
  }
}

async function runSearch(text: string, before?: ResumePoint): Promise<void> {
  const view = active === undefined ? undefined : views.get(active)
  if (view === undefined) return
  const run = ++searchRun
  if (ui.app.dataset['search'] !== 'results') conversationScroll = { top: ui.logs.scrollTop, atEnd: nearEnd() }
  ui.app.dataset['search'] = 'results'
  ui.searchPanel.hidden = false
  delete ui.searchSummary.dataset['tone']
  if (before === undefined) {
    ui.searchResults.replaceChildren()
    ui.searchSummary.textContent = `Searching #${view.name}…`
  }
  ui.searchMore.replaceChildren(el('span', { className: 'spinner' }))
  let page: HistoryPage<ChatRoomMessage>
  try {
    if (client?.welcome !== undefined && !client.welcome.capabilities.includes('search')) {
      throw new ParleyClientError('HISTORY_UNAVAILABLE', 'This server does not search its history')
    }
    page = await view.room.search(text, { before, limit: SEARCH_PAGE })
  } catch (error) {
    if (run !== searchRun) return
    const code = error instanceof ParleyClientError ? error.code : undefined
    ui.searchSummary.dataset['tone'] = 'bad'
    // Shown, never thrown: the store being down is a state of the server, not a bug of the page.
    const reason = (error as Error).message.replace(/[.!]?$/, '.')
    ui.searchSummary.textContent = code === 'HISTORY_UNAVAILABLE' ? reason : `Search failed: ${reason}`
    ui.searchMore.replaceChildren()
    return
  }
  if (run !== searchRun) return
  const words = searchWords(text)
  // Newest first, as people look for something recent; each page from the server is oldest first.
  // Reactions are messages too, and an emoji is text to the store's search: they are not results.
  ui.searchResults.append(...[...page.messages].reverse().filter((message) => !isChatReaction(message.data)).map((message) => resultNode(message, words)))
  const count = ui.searchResults.childElementCount
  ui.searchSummary.textContent =
    count === 0
      ? `No messages in #${view.name} match “${text}”.`
      : `${count}${page.more ? '+' : ''} message${count === 1 && !page.more ? '' : 's'} in #${view.name} match${count === 1 && !page.more ? 'es' : ''} “${text}”`
  const oldest = page.messages[0]
  if (page.more && oldest !== undefined) {
    const more = el('button', { className: 'ghost', text: 'Show older matches' })
    more.type = 'button'
    more.addEventListener('click', () => void runSearch(text, { epoch: oldest.epoch, seq: oldest.seq }))
    ui.searchMore.replaceChildren(more)
  } else {
    ui.searchMore.replaceChildren()
  }
}

function resultNode(message: RoomMessageEvent<unknown>, words: readonly string[]): HTMLElement {
  const author = message.from ?? 'server'
  const data = message.data
  const text = isChatMessage(data) ? data.text : isChatImage(data) ? `[image: ${data.image.name}]` : '[a message this page cannot show]'
  return el('li', { className: 'result', data: { author, seq: String(message.seq), epoch: message.epoch } }, [
    avatar(author, true),
    el('div', { className: 'meta' }, [
      el('span', { className: 'author', text: author }),
      el('time', { className: 'time', text: formatWhen(message.ts), title: new Date(message.ts).toLocaleString() }),
    ]),
    el('div', { className: 'text' }, highlighted(text, words)),
  ])
}

ui.searchToggle.addEventListener('click', () => (ui.app.dataset['search'] === undefined ? openSearch() : closeSearch()))
ui.searchInput.addEventListener('focus', () => {
  setDrawer(undefined)
  openSearch()
})
ui.searchClose.addEventListener('click', () => {
  closeSearch()
  ui.input.focus()
})
ui.searchForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = ui.searchInput.value.trim()
  if (text !== '') void runSearch(text)
})
addEventListener('keydown', (event) => {
  if (event.key !== 'Escape' || ui.app.hidden || ui.app.dataset['search'] === undefined) return
  event.preventDefault()
  closeSearch()
  ui.input.focus()
})

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
  const listed = people.filter(([, isOnline]) => isOnline).length
  // The room's own count: a large room's join lists the first members only, and its presence then comes as counts
  // (who left is not said, so the names listed as online may be more than are).
  const online = view.room.memberCount || listed
  ui.roomMembers.textContent = `${formatCount(online)} online`
  const more = Math.max(0, online - listed)
  const items = people.map(([user, isOnline]) =>
    el('li', { data: { user, online: String(isOnline) } }, [
      avatar(user, true),
      el('span', { className: 'person', text: user === me ? `${user} (you)` : user }),
      view.typing.has(user)
        ? el('span', { className: 'typing-dots', text: 'typing…' })
        : el('span', { className: 'presence', text: isOnline ? 'online' : 'offline' }),
    ]),
  )
  // After the online people listed, the ones the page was only counted (people sorts online first).
  if (more > 0) items.splice(listed, 0, el('li', { className: 'more', text: `and ${formatCount(more)} more online` }))
  ui.people.replaceChildren(...items)
}

function renderRooms(): void {
  const counts = new Map(activeRooms.map(({ room, members }) => [room, members]))
  for (const view of views.values()) {
    counts.set(view.name, view.room.memberCount || (counts.get(view.name) ?? 0))
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
// Polling: active rooms (a request) and server stats

function scheduleRoomsRefresh(): void {
  clearTimeout(roomsRefresh)
  roomsRefresh = setTimeout(() => void refreshRooms(), 300)
}

/** Asks for the active rooms with `rooms.list` (the contract types the answer, and the client checks it). */
async function refreshRooms(): Promise<void> {
  const owner = client
  // Only while connected: a request made offline waits for the connection, so polls would pile up meanwhile.
  if (owner?.state !== 'open') return
  try {
    const { rooms } = await owner.request('rooms.list', {})
    if (client !== owner) return
    activeRooms = rooms
    renderRooms()
  } catch {
    // The connection went while asking (the status says so), or the answer was late: the next poll asks again.
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
