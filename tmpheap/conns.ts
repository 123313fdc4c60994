import WebSocket from 'ws'
const port = Number(process.argv[2]); const N = Number(process.argv[3])
const socks: WebSocket[] = []
let done = 0
for (let i = 0; i < N; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/parley`, ['parley.v2.json'])
  socks.push(ws)
  ws.on('message', (d: Buffer) => {
    const t = d.toString()
    if (t.startsWith('{"type":"welcome"')) ws.send(JSON.stringify({ type: 'join', room: `room-${i % (N / 10)}`, id: 'j', batch: true }))
    else if (t.startsWith('{"type":"joined"')) { if (++done === N) process.send?.('ready') }
  })
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20))
}
