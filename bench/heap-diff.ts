// Where the memory of idle connections goes: starts Hubbub (or the floor) with heap snapshots on
// SIGUSR2, opens `count` idle subscribers of one transport, and prints RSS and live heap per
// connection and the heap's growth by constructor / closure name, per connection.
//   node --import tsx bench/heap-diff.ts --transport websocket [--count 3000] [--system hubbub|floor] [--top 40] [--node-flags=--max-semi-space-size=1]
//   node --import tsx bench/heap-diff.ts --diff before.heapsnapshot after.heapsnapshot --count 3000
// Opening thousands of connections at once makes V8 grow its young generation (up to 16 MB per
// semi-space), and that growth lands in "RSS per connection" as several KB of noise, different on
// every run. --node-flags=--max-semi-space-size=1 keeps it out: then RSS and live heap per
// connection are what the connections themselves cost.
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ClientPool } from './client-pool.js';
import { openOrThrow, settledRss } from './phases.js';
import { fdLimit, LOAD_TEST_LIMITS, spawnListening } from './server-process.js';
import type { Transport } from './subscribers.js';

const { values: o } = parseArgs({
  options: {
    transport: { type: 'string', default: 'websocket' },
    count: { type: 'string', default: '3000' },
    system: { type: 'string', default: 'hubbub' },
    top: { type: 'string', default: '40' },
    diff: { type: 'boolean', default: false },
    /** Extra V8/Node flags for the server, e.g. --max-semi-space-size=1 to see connections without young-generation growth. */
    'node-flags': { type: 'string', default: '' },
  },
  allowPositionals: true,
});

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self sizes and counts of a snapshot's nodes, by what they are: `object Foo`, `closure bar`, `string`… */
export function tally(file: string): { total: number; by: Map<string, { count: number; bytes: number }> } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [T, N, S] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const by = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + T]!]!;
    const size = snap.nodes[i + S]!;
    const name = snap.strings[snap.nodes[i + N]!]!;
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array' || type === 'code';
    const key = named ? `${type} ${name.slice(0, 60)}` : type;
    const e = by.get(key) ?? { count: 0, bytes: 0 };
    e.count += 1;
    e.bytes += size;
    by.set(key, e);
    total += size;
  }
  return { total, by };
}

export function printDiff(before: string, after: string, count: number, top: number): void {
  const a = tally(before);
  const b = tally(after);
  console.log(`live heap: ${((b.total - a.total) / count).toFixed(0)} B per connection`);
  const rows = [...b.by].map(([key, v]) => {
    const w = a.by.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: (v.count - w.count) / count, bytes: (v.bytes - w.bytes) / count };
  });
  rows.sort((x, y) => y.bytes - x.bytes);
  for (const r of rows.slice(0, top)) console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(6)}×  ${r.key}`);
}

async function snapshot(pid: number, dir: string): Promise<string> {
  const known = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const file = readdirSync(dir).find((f) => !known.has(f) && f.endsWith('.heapsnapshot'));
    if (!file) continue;
    // Node writes the file in place: it is complete once it ends the JSON and stops growing.
    const size = statSync(join(dir, file)).size;
    await new Promise((r) => setTimeout(r, 1000));
    if (size > 0 && statSync(join(dir, file)).size === size && readFileSync(join(dir, file), 'utf8').trimEnd().endsWith('}')) return join(dir, file);
  }
}

/** The server's process.memoryUsage(), asked for with SIGWINCH and read from its output. */
async function memory(output: () => string, pid: number): Promise<Record<string, number>> {
  const seen = output().split('MEMORY ').length;
  process.kill(pid, 'SIGWINCH');
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const parts = output().split('MEMORY ');
    if (parts.length > seen) return JSON.parse(parts.at(-1)!.split('\n')[0]!) as Record<string, number>;
  }
}

async function run(): Promise<void> {
  const count = Number(o.count);
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-heap-'));
  const fd = fdLimit(65_536);
  const file = fileURLToPath(new URL(o.system === 'floor' ? './floor-server.ts' : '../server/main.ts', import.meta.url));
  const args = o.system === 'floor' ? ['--port', '0'] : ['--port', '0', '--host', '127.0.0.1'];
  // SIGWINCH prints the server's own view of its memory: heap used vs committed, and native.
  const preload = join(dir, 'memory-usage.mjs');
  writeFileSync(
    preload,
    `import v8 from 'node:v8';\nprocess.on('SIGWINCH', () => console.log('MEMORY ' + JSON.stringify({ ...process.memoryUsage(), spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, [s.space_used_size, s.space_size]])) })));\n`,
  );
  const env = { ...process.env, ...LOAD_TEST_LIMITS, HUBBUB_API_KEY: 'bench-api-key-0123456789', NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir} --import=${preload} ${o['node-flags']}` };
  const server = await spawnListening(file, args, env, fd.prefix);
  const pid = server.child.pid!;
  const pool = await ClientPool.start(2, fd.prefix);
  const sys = { urls: [server.url], tokenSecret: undefined } as unknown as Parameters<typeof openOrThrow>[1];
  try {
    const t = o.transport as Transport;
    // Warm up: the JIT and the first connections' one-off allocations stay out of the figures.
    await openOrThrow(pool, sys, t, ['bench:warm'], 200);
    await pool.close();
    // The snapshot itself grows RSS: taken first, so the baseline includes that.
    const before = await snapshot(pid, dir);
    const rss0 = await settledRss([pid]);
    const mem0 = await memory(server.output, pid);
    const opened = await openOrThrow(pool, sys, t, ['bench:idle'], count);
    const rss1 = await settledRss([pid]);
    const mem1 = await memory(server.output, pid);
    const after = await snapshot(pid, dir);
    const per = (k: string) => ((mem1[k]! - mem0[k]!) / opened.opened / 1024).toFixed(2);
    console.log(`${o.system} ${t}: ${opened.opened} idle, RSS ${((rss1 - rss0) / opened.opened).toFixed(2)} KB per connection`);
    console.log(`  process.memoryUsage per connection, KB: rss ${per('rss')}, heapTotal ${per('heapTotal')}, heapUsed ${per('heapUsed')}, external ${per('external')}, arrayBuffers ${per('arrayBuffers')}`);
    const spaces0 = mem0['spaces'] as unknown as Record<string, [number, number]>;
    const spaces1 = mem1['spaces'] as unknown as Record<string, [number, number]>;
    console.log(`  heap spaces (used / committed) per connection, KB: ${Object.keys(spaces1).map((k) => `${k} ${((spaces1[k]![0] - spaces0[k]![0]) / opened.opened / 1024).toFixed(2)}/${((spaces1[k]![1] - spaces0[k]![1]) / opened.opened / 1024).toFixed(2)}`).join(', ')}`);
    printDiff(before, after, opened.opened, Number(o.top));
  } finally {
    await pool.close().catch(() => undefined);
    pool.stop();
    await server.stop();
  }
}

if (o.diff) printDiff(process.argv.at(-2)!, process.argv.at(-1)!, Number(o.count), Number(o.top));
else await run();
