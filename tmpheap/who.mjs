import { readFileSync } from 'node:fs'
const B = JSON.parse(readFileSync('/tmp/heapB.heapsnapshot', 'utf8'))
const meta = B.snapshot.meta, nf = meta.node_fields.length, ef = meta.edge_fields.length
const types = meta.node_types[0], etypes = meta.edge_types[0]
const iT = meta.node_fields.indexOf('type'), iN = meta.node_fields.indexOf('name'), iS = meta.node_fields.indexOf('self_size'), iE = meta.node_fields.indexOf('edge_count')
const eT = meta.edge_fields.indexOf('type'), eN = meta.edge_fields.indexOf('name_or_index'), eTo = meta.edge_fields.indexOf('to_node')
const N = B.nodes
const A = JSON.parse(readFileSync('/tmp/heapA.heapsnapshot', 'utf8'))
const iId = meta.node_fields.indexOf('id')
const idsA = new Set(); for (let i = 0; i < A.nodes.length; i += nf) idsA.add(A.nodes[i + iId])
const label = (i) => `${types[N[i + iT]]}:${B.strings[N[i + iN]]}`.slice(0, 40)
const firstEdge = new Map(); let e = 0
for (let i = 0; i < N.length; i += nf) { firstEdge.set(i, e); e += N[i + iE] * ef }
const edgesOf = (i) => { const out = []; let s = firstEdge.get(i); for (let k = 0; k < N[i + iE]; k++, s += ef) { const et = etypes[B.edges[s + eT]]; out.push([et, et === 'element' || et === 'hidden' ? B.edges[s + eN] : B.strings[B.edges[s + eN]], B.edges[s + eTo]]) } return out }
// retainers
const ret = new Map()
for (let i = 0; i < N.length; i += nf) for (const [et, en, to] of edgesOf(i)) { if (!ret.has(to)) ret.set(to, []); ret.get(to).push([i, et, en]) }
let shown = 0
for (let i = 0; i < N.length && shown < 2; i += nf) {
  if (label(i) !== 'object:Object' || idsA.has(N[i + iId])) continue
  const props = edgesOf(i).find(([et, en, to]) => en === 'properties' && label(to) === 'array:(object properties)' && N[to + iS] >= 200)
  if (!props) continue
  shown++
  console.log('OBJ', i, 'props:', edgesOf(i).filter(([et]) => et === 'property').map(([, en, to]) => `${en}=${label(to)}`).join(', ').slice(0, 600))
  console.log('  retained by', (ret.get(i) ?? []).map(([r, et, en]) => `${label(r)}.${en}`).join(', '))
}
