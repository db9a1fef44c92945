// Publish throughput of one NatsBroker node (and of two nodes fighting over one channel).
//   npx tsx bench/nats-publish.ts            # starts a throw-away nats-server
//   NATS_URL=nats://host:4222 npx tsx bench/nats-publish.ts

import { NatsBroker } from '../server/broker/nats/broker.js';
import { NatsServer } from '../test/support/nats-server.js';

const quiet = { warn: () => {} };

async function timed(label: string, count: number, run: () => Promise<void>): Promise<void> {
  const conflicts = a.stats.publishConflicts + b.stats.publishConflicts;
  const started = process.hrtime.bigint();
  await run();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const retried = a.stats.publishConflicts + b.stats.publishConflicts - conflicts;
  console.log(
    `${label.padEnd(60)} ${String(count).padStart(6)} publishes ${(count / (ms / 1000)).toFixed(0).padStart(7)}/s  ${String(retried).padStart(6)} retried`,
  );
}

/** Runs `total` tasks with at most `width` in flight. */
async function pool(total: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

const server = process.env.NATS_URL ? undefined : await NatsServer.start();
const url = process.env.NATS_URL ?? server!.url;
const prefix = `bench${Date.now().toString(36)}`;
const options = { servers: url, prefix, historySize: 100, historyTtlMs: 600_000, logger: quiet };
const a = await NatsBroker.connect(options);
const b = await NatsBroker.connect(options);
const payload = { text: 'hello from the benchmark', n: 0 };

try {
  await timed('one channel, one node, sequential (latency bound)', 2_000, async () => {
    for (let i = 0; i < 2_000; i++) await a.publish('bench:seq', payload);
  });
  await timed('1000 channels, one node, 256 in flight', 20_000, () =>
    pool(20_000, 256, (i) => a.publish(`bench:ch-${i % 1000}`, payload)),
  );
  await timed('2x500 channels, two nodes (one each), 256 in flight each', 20_000, () =>
    Promise.all([
      pool(10_000, 256, (i) => a.publish(`bench:own-a${i % 500}`, payload)),
      pool(10_000, 256, (i) => b.publish(`bench:own-b${i % 500}`, payload)),
    ]).then(() => undefined),
  );
  // Both nodes write every channel, half a round apart: most cached heads are stale.
  await timed('1000 channels, two nodes (shared), 256 in flight each', 20_000, () =>
    Promise.all([
      pool(10_000, 256, (i) => a.publish(`bench:two-${i % 1000}`, payload)),
      pool(10_000, 256, (i) => b.publish(`bench:two-${(i + 500) % 1000}`, payload)),
    ]).then(() => undefined),
  );
  await timed('one channel, two nodes, all at once (contention)', 2_000, () =>
    Promise.all(Array.from({ length: 2_000 }, (_, i) => (i % 2 ? a : b).publish('bench:hot', payload))).then(() => undefined),
  );
  await timed('idempotent publishes, 1000 channels, one node, 256 in flight', 5_000, () =>
    pool(5_000, 256, (i) => a.publish(`bench:idem-${i % 1000}`, payload, { idempotencyKey: `k${i}` })),
  );
} finally {
  await Promise.all([a.close(), b.close()]);
  await server?.close();
}
