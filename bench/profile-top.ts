// The top entries of a V8 CPU profile (node --cpu-prof, or the bench's --profile DIR): self time
// and total time per function, as the closing notes quote them.
//   npx tsx bench/profile-top.ts FILE.cpuprofile [--top 25] [--filter text]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values: o, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, filter: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const where = (n: ProfileNode) => {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\/.*?\/(server|contract|node_modules)\//, '$1/').replace(/^node:/, '');
  return `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
};

const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  all += dt;
  let node = byId.get(profile.samples[i]!);
  if (!node) continue;
  self.set(where(node), (self.get(where(node)) ?? 0) + dt);
  // Total time: each function once per sample, however deep it recurses.
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    node = byId.get(id)!;
    const key = where(node);
    if (!seen.has(key)) total.set(key, (total.get(key) ?? 0) + dt);
    seen.add(key);
  }
}

const pct = (us: number) => `${((100 * us) / all).toFixed(1)}%`;
const rows = [...self.entries()].filter(([k]) => !o.filter || k.includes(o.filter)).sort((a, b) => b[1] - a[1]);
console.log(`${(all / 1e6).toFixed(1)} s sampled\n\n| self | total | function |\n|---:|---:|---|`);
for (const [k, us] of rows.slice(0, Number(o.top))) console.log(`| ${pct(us)} | ${pct(total.get(k) ?? 0)} | ${k.replace(/\|/g, '\\|')} |`);
