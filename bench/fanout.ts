/**
 * npm run bench -- [--subscribers 1000] [--publications 200] [--transports websocket,sse,poll]
 *                  [--modes memory,nats,nats3] [--interval 2] [--auth]
 * N subscribers of one channel per transport, K publications through the REST API; prints
 * deliveries per second and publish-to-delivery latency. Modes: `memory` (one node, embedded
 * broker), `nats` (one node on a local nats-server), `nats3` (three nodes on one nats-server,
 * subscribers spread over them, publications through the first). `--auth`: every subscriber
 * presents its own signed token and the channel's namespace admits authenticated users only, to
 * measure what authentication costs (it must cost nothing per delivery). A benchmark, not a test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { NatsServer } from '../test/support/nats-server.js';
import { type ServerProcess, startServerProcess } from './server-process.js';
import { type BenchSubscriber, SUBSCRIBERS } from './subscribers.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    publications: { type: 'string', default: '200' },
    transports: { type: 'string', default: 'websocket,sse,poll' },
    interval: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'memory,nats,nats3' },
    auth: { type: 'boolean', default: false },
  },
});
const AUTH_SECRET = randomBytes(32).toString('base64url');
const authEnv = (): Record<string, string> => {
  if (!values.auth) return {};
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-bench-'));
  writeFileSync(join(dir, 'hubbub.yaml'), 'namespaces:\n  bench:\n    subscribe: authenticated\n');
  return { HUBBUB_TOKEN_SECRET: AUTH_SECRET, HUBBUB_CONFIG: join(dir, 'hubbub.yaml') };
};
const tokenFor = (i: number) =>
  values.auth
    ? new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(`user${i}`).setExpirationTime('1h').sign(new TextEncoder().encode(AUTH_SECRET))
    : Promise.resolve(undefined);
const modes = values.modes.split(',') as Mode[];
type Mode = 'memory' | 'nats' | 'nats3';
const N = Number(values.subscribers);
const K = Number(values.publications);
const intervalMs = Number(values.interval);
const transports = values.transports.split(',') as Array<keyof typeof SUBSCRIBERS>;
const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function startNodes(mode: Mode, nats: NatsServer | undefined): Promise<ServerProcess[]> {
  const args = ['--history-size', String(Math.max(100, K)), '--max-channels', '10'];
  const env = authEnv();
  if (mode === 'memory') return [await startServerProcess(args, env)];
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const count = mode === 'nats3' ? 3 : 1;
  const nodes: ServerProcess[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push(await startServerProcess([...args, '--nats', nats!.url, '--nats-prefix', prefix, '--node-id', `bench${i}`], env));
  }
  return nodes;
}

async function run(mode: Mode, transport: keyof typeof SUBSCRIBERS, nats: NatsServer | undefined) {
  const nodes = await startNodes(mode, nats);
  const server = nodes[0]!;
  const channel = `bench:${transport}`;
  const latencies: number[] = [];
  let delivered = 0;
  let lastDelivery = 0;
  const subs: BenchSubscriber[] = [];
  const onData = (d: { i: number; t: number }) => {
    const at = now();
    latencies.push(at - d.t);
    delivered += 1;
    lastDelivery = at;
  };
  for (let i = 0; i < N; i += 50) {
    const batch = Array.from({ length: Math.min(50, N - i) }, async (_, j) =>
      SUBSCRIBERS[transport](nodes[(i + j) % nodes.length]!.url, channel, onData, await tokenFor(i + j)),
    );
    subs.push(...(await Promise.all(batch)));
  }
  const headers = { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' };
  const start = now();
  for (let i = 0; i < K; i++) {
    const res = await fetch(`${server.url}/api/publish`, { method: 'POST', headers, body: JSON.stringify({ channel, data: { i, t: now() } }) });
    if (res.status !== 200) throw new Error(`publish: ${res.status}`);
    if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
  }
  const expected = N * K;
  const deadline = Date.now() + 60_000;
  while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (lastDelivery - start) / 1000;
  for (const s of subs) s.close();
  await Promise.all(nodes.map((n) => n.stop()));
  latencies.sort((a, b) => a - b);
  return {
    mode: (mode === 'nats3' ? 'nats, 3 nodes' : mode === 'nats' ? 'nats, 1 node' : 'memory') + (values.auth ? ', auth' : ''),
    transport,
    subscribers: N,
    publications: K,
    delivered,
    lost: expected - delivered,
    'deliveries/s': Math.round(delivered / seconds),
    'p50 ms': Number(percentile(latencies, 50).toFixed(2)),
    'p99 ms': Number(percentile(latencies, 99).toFixed(2)),
  };
}

const nats = modes.some((m) => m !== 'memory') ? await NatsServer.start() : undefined;
const rows = [];
try {
  for (const mode of modes) for (const t of transports) rows.push(await run(mode, t, nats));
} finally {
  await nats?.close();
}
console.table(rows);
