/**
 * npm run bench -- [--subscribers 1000] [--publications 200] [--transports websocket,sse,poll]
 * N subscribers of one channel per transport, K publications through the REST API; prints
 * deliveries per second and publish-to-delivery latency. A benchmark, not a test.
 */
import { parseArgs } from 'node:util';
import { startServerProcess } from './server-process.js';
import { type BenchSubscriber, SUBSCRIBERS } from './subscribers.js';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    publications: { type: 'string', default: '200' },
    transports: { type: 'string', default: 'websocket,sse,poll' },
    interval: { type: 'string', default: '2' },
  },
});
const N = Number(values.subscribers);
const K = Number(values.publications);
const intervalMs = Number(values.interval);
const transports = values.transports.split(',') as Array<keyof typeof SUBSCRIBERS>;
const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function run(transport: keyof typeof SUBSCRIBERS) {
  const server = await startServerProcess(['--history-size', String(Math.max(100, K)), '--max-channels', '10']);
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
    const batch = Array.from({ length: Math.min(50, N - i) }, () => SUBSCRIBERS[transport](server.url, channel, onData));
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
  await server.stop();
  latencies.sort((a, b) => a - b);
  return {
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

const rows = [];
for (const t of transports) rows.push(await run(t));
console.table(rows);
