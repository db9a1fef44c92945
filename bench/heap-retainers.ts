// Who holds what in one heap snapshot: nodes of the kinds heap-diff.ts reports, grouped by their
// first retainer (`Parent.edge`), and closures by their source location, counted per connection.
//   node --import tsx bench/heap-retainers.ts <file.heapsnapshot> --count 3000 [--min 0.5] [--kind "object Object"] [--depth 1]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: o, positionals } = parseArgs({
  options: { count: { type: 'string', default: '1' }, min: { type: 'string', default: '0.5' }, kind: { type: 'string', multiple: true }, depth: { type: 'string', default: '1' } },
  allowPositionals: true,
});

interface Snap {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Snap;
const m = snap.snapshot.meta;
const NW = m.node_fields.length;
const EW = m.edge_fields.length;
const ntypes = m.node_types[0];
const etypes = m.edge_types[0];
const count = snap.nodes.length / NW;
const type = (n: number) => ntypes[snap.nodes[n * NW]!]!;
const name = (n: number) => snap.strings[snap.nodes[n * NW + 1]!]!;
const size = (n: number) => snap.nodes[n * NW + 3]!;
const firstEdge = new Uint32Array(count + 1);
for (let n = 0, e = 0; n < count; n++) {
  firstEdge[n] = e;
  e += snap.nodes[n * NW + 4]! * EW;
}
firstEdge[count] = snap.edges.length;
const edgeName = (e: number) => {
  const t = etypes[snap.edges[e]!]!;
  const v = snap.edges[e + 1]!;
  return t === 'element' || t === 'hidden' ? `[${t}]` : snap.strings[v]!;
};
// First strong retainer of every node.
const parent = new Int32Array(count).fill(-1);
const via = new Int32Array(count).fill(-1);
for (let n = 0; n < count; n++) {
  for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += EW) {
    if (etypes[snap.edges[e]!] === 'weak' || etypes[snap.edges[e]!] === 'shortcut') continue;
    const to = snap.edges[e + 2]! / NW;
    if (parent[to] === -1) {
      parent[to] = n;
      via[to] = e;
    }
  }
}
const kindOf = (n: number) => {
  const t = type(n);
  return t === 'string' || t === 'number' || t === 'concatenated string' || t === 'sliced string' ? t : `${t} ${name(n).slice(0, 50)}`;
};
// A closure's place from the snapshot's `locations`: script id, line, column (tsx emits each module
// on few lines, so the column tells closures apart; the script itself is not named in the snapshot).
const lines = new Map<number, string>();
const loc = (snap as unknown as { locations?: number[] }).locations ?? [];
for (let i = 0; i < loc.length; i += 4) lines.set(loc[i]! / NW, `script ${loc[i + 1]} ${loc[i + 2]! + 1}:${loc[i + 3]! + 1}`);
const where = (n: number) => `${name(n) || '(anon)'}@${lines.get(n) ?? '?'}`;
const describe = (n: number) => (type(n) === 'closure' ? `closure ${where(n)}` : kindOf(n));

const groups = new Map<string, { count: number; bytes: number }>();
const kinds = new Set(o.kind ?? []);
for (let n = 0; n < count; n++) {
  const k = kindOf(n);
  if (kinds.size && !kinds.has(k)) continue;
    let key = `${type(n) === 'closure' ? `closure ${where(n)}` : k}`;
  for (let d = 0, at = n; d < Number(o.depth); d++) {
    const up = parent[at]!;
    key += `  ←  ${up < 0 ? '(root)' : `${describe(up)}.${edgeName(via[at]!)}`}`;
    if (up < 0) break;
    at = up;
  }
  const g = groups.get(key) ?? { count: 0, bytes: 0 };
  g.count += 1;
  g.bytes += size(n);
  groups.set(key, g);
}
const per = Number(o.count);
const rows = [...groups].filter(([, g]) => g.count / per >= Number(o.min)).sort((a, b) => b[1].bytes - a[1].bytes);
for (const [key, g] of rows) console.log(`${(g.bytes / per).toFixed(0).padStart(6)} B ${(g.count / per).toFixed(2).padStart(6)}×  ${key}`);
