import { readFileSync } from 'node:fs'
const load = (f) => JSON.parse(readFileSync(f, 'utf8'))
const A = load('/tmp/heapA.heapsnapshot'), B = load('/tmp/heapB.heapsnapshot')
const meta = B.snapshot.meta, nf = meta.node_fields.length, ef = meta.edge_fields.length
const types = meta.node_types[0], etypes = meta.edge_types[0]
const iT = meta.node_fields.indexOf('type'), iN = meta.node_fields.indexOf('name'), iId = meta.node_fields.indexOf('id'), iS = meta.node_fields.indexOf('self_size'), iE = meta.node_fields.indexOf('edge_count')
const eT = meta.edge_fields.indexOf('type'), eN = meta.edge_fields.indexOf('name_or_index'), eTo = meta.edge_fields.indexOf('to_node')
const idsA = new Set(); for (let i = 0; i < A.nodes.length; i += nf) idsA.add(A.nodes[i + iId])
const N = B.nodes
const label = (i) => `${types[N[i + iT]]}:${B.strings[N[i + iN]]}`.slice(0, 50)
// owners: for target kinds, map node index -> owner label + edge name
const want = new Set(process.argv.slice(3))
const agg = new Map()
let e = 0
for (let i = 0; i < N.length; i += nf) {
  const cnt = N[i + iE]
  for (let k = 0; k < cnt; k++, e += ef) {
    const to = B.edges[e + eTo]
    if (idsA.has(N[to + iId])) continue
    const tl = label(to)
    if (!want.has(tl)) continue
    const et = etypes[B.edges[e + eT]]
    const en = et === 'element' || et === 'hidden' ? B.edges[e + eN] : B.strings[B.edges[e + eN]]
    const key = `${tl} <- ${label(i)} .${en}`
    const a = agg.get(key) ?? [0, 0]; a[0] += N[to + iS]; a[1]++; agg.set(key, a)
  }
}
const n = Number(process.argv[2])
for (const [k, [s, c]] of [...agg].sort((x, y) => y[1][0] - x[1][0]).slice(0, 40)) console.log((s / n).toFixed(0).padStart(6), (c / n).toFixed(2).padStart(6), k)
