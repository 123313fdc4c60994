import { readFileSync } from 'node:fs'
function agg(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'))
  const f = s.snapshot.meta.node_fields, types = s.snapshot.meta.node_types[0]
  const n = f.length, it = f.indexOf('type'), iname = f.indexOf('name'), isz = f.indexOf('self_size')
  const m = new Map()
  for (let i = 0; i < s.nodes.length; i += n) {
    const t = types[s.nodes[i + it]]
    let name = s.strings[s.nodes[i + iname]]
    if (t === 'string' || t === 'concatenated string' || t === 'sliced string') name = '(string)'
    if (t === 'number') name = '(number)'
    const key = t + ' ' + String(name).slice(0, 60)
    const e = m.get(key) ?? [0, 0]; e[0] += s.nodes[i + isz]; e[1]++; m.set(key, e)
  }
  return m
}
const A = agg('/tmp/heapA.heapsnapshot'), B = agg('/tmp/heapB.heapsnapshot')
const N = Number(process.argv[2])
const rows = []
for (const [k, [sz, c]] of B) { const [sa, ca] = A.get(k) ?? [0, 0]; rows.push([k, (sz - sa) / N, (c - ca) / N]) }
rows.sort((x, y) => y[1] - x[1])
let tot = 0; for (const r of rows) tot += r[1]
console.log('total bytes/client', tot.toFixed(0))
for (const r of rows.slice(0, Number(process.argv[3] ?? 50))) console.log(r[1].toFixed(0).padStart(7), r[2].toFixed(2).padStart(7), r[0])
