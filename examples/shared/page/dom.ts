/**
 * The page's only way to make DOM: text always goes through `textContent`, never `innerHTML`, so whatever people
 * type (`<img src=x onerror=...>` included) shows up as the characters they typed and can never become markup.
 */

export interface ElementProps {
  readonly className?: string
  readonly text?: string
  readonly title?: string
  readonly data?: Readonly<Record<string, string>>
}

/** Creates an element with text (as text) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: ElementProps = {}, children: readonly Node[] = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (props.className !== undefined) node.className = props.className
  if (props.text !== undefined) node.textContent = props.text
  if (props.title !== undefined) node.title = props.title
  for (const [key, value] of Object.entries(props.data ?? {})) node.dataset[key] = value
  for (const child of children) node.append(child)
  return node
}

/** The element with this id; a missing one is a bug in index.html, so it throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id)
  if (node === null) throw new Error(`#${id} is missing from index.html`)
  return node as T
}

/** A stable colour per name, so people are recognisable at a glance. */
export function colorFor(name: string): string {
  let hash = 0
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0
  return `hsl(${Math.abs(hash) % 360} 55% 52%)`
}

/** A square avatar with the name's first letter. */
export function avatar(name: string, small = false): HTMLSpanElement {
  const node = el('span', { className: small ? 'avatar small' : 'avatar', text: name.slice(0, 1) })
  node.style.background = colorFor(name)
  return node
}

/** 14:05 */
export function formatTime(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}

/** 14:05 today; "Yesterday 14:05"; "Mar 4, 14:05" this year; "Mar 4, 2023, 14:05" before: history reaches back. */
export function formatWhen(ts: number, now = Date.now()): string {
  const date = new Date(ts)
  const today = new Date(now)
  const time = formatTime(ts)
  if (date.toDateString() === today.toDateString()) return time
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1)
  if (date.toDateString() === yesterday.toDateString()) return `Yesterday ${time}`
  const day = date.toLocaleDateString([], { month: 'short', day: 'numeric', ...(date.getFullYear() === today.getFullYear() ? {} : { year: 'numeric' }) })
  return `${day}, ${time}`
}

/** The words of a search to mark in its results: quotes dropped, `-excluded` words left out. */
export function searchWords(query: string): string[] {
  return query
    .split(/\s+/)
    .filter((word) => word !== '' && !word.startsWith('-'))
    .map((word) => word.replace(/^"+|"+$/g, ''))
    .filter((word) => word !== '')
}

/** `text` as text nodes, with every (case-insensitive) occurrence of `words` in a `<mark>`: still text only. */
export function highlighted(text: string, words: readonly string[]): Node[] {
  if (words.length === 0) return [document.createTextNode(text)]
  const escaped = [...words].sort((a, b) => b.length - a.length).map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const pattern = new RegExp(`(${escaped.join('|')})`, 'gi')
  // split() with a capturing group puts the matches at the odd indexes.
  return text.split(pattern).map((part, i) => (i % 2 === 1 ? el('mark', { text: part }) : document.createTextNode(part)))
}

/** 3h 12m, 4m 05s, 12s */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`
  return `${s}s`
}

/** 12,345 */
export function formatCount(value: number): string {
  return value.toLocaleString('en-US')
}

/** "Alice is typing…", "Alice and Bob are typing…", "Alice, Bob and 2 others are typing…" */
export function typingLine(names: readonly string[]): string {
  if (names.length === 0) return ''
  if (names.length === 1) return `${names[0]} is typing…`
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`
  return `${names[0]}, ${names[1]} and ${names.length - 2} other${names.length === 3 ? '' : 's'} are typing…`
}

/** Shows a short message in the corner for a few seconds. */
export function toast(text: string, ms = 5_000): void {
  const node = el('div', { className: 'toast', text })
  byId('toasts').append(node)
  setTimeout(() => node.remove(), ms)
}
