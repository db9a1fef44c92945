// npm run soak -- [--minutes 30] [--nats] [--rate 50] [--channels 4] [--sample 10] [--warmup <s>]
//                 [--churners 4] [--payload 200] [--slow-pause 3000]
// A long run against one real server process: steady publishes, clients coming and going on every
// transport, slow readers, and long-lived subscribers that must get every publication in order.
// Samples the server's RSS and heap, prints them over time with a fitted slope, writes
// .tmp/soak-<time>.json, and exits 1 if a long-lived subscriber lost a publication or saw a gap.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NatsServer } from '../test/support/nats-server.js';
import { startServerProcess } from './server-process.js';
import type { CheckReport } from './soak-check.js';
import { startChurn } from './soak-churn.js';
import { type MemoryKey, type Sample, formatSummary, info, summarize, tableHeader, tableRow, vmRss } from './soak-memory.js';
import { SoakPublisher } from './soak-publisher.js';
import { type LongLived, type LongLivedKind, openLongLived } from './soak-subscribers.js';
import { sleep } from './soak-wire.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    nats: { type: 'boolean', default: false },
    rate: { type: 'string', default: '50' },
    channels: { type: 'string', default: '4' },
    sample: { type: 'string', default: '10' },
    warmup: { type: 'string' },
    churners: { type: 'string', default: '4' },
    payload: { type: 'string', default: '200' },
    'slow-pause': { type: 'string', default: '3000' },
  },
});
const totalS = Number(values.minutes) * 60;
const sampleS = Number(values.sample);
// Long enough for the JIT, the heap's first growth and the churn to reach its steady state.
const warmupS = values.warmup === undefined ? Math.min(60, totalS / 4) : Number(values.warmup);
const config = {
  minutes: Number(values.minutes),
  broker: values.nats ? 'nats' : 'memory',
  ratePerSecond: Number(values.rate),
  channels: Number(values.channels),
  sampleSeconds: sampleS,
  warmupSeconds: warmupS,
  churnersPerTransport: Number(values.churners),
  payloadBytes: Number(values.payload),
  slowPauseMs: Number(values['slow-pause']),
};
const KINDS: LongLivedKind[] = ['websocket', 'sse', 'poll'];
const MEMORY_KEYS: MemoryKey[] = ['rss', 'heapUsed', 'heapTotal', 'external'];
/** After the last publication, how long subscribers get to deliver it before it counts as lost. */
const CATCH_UP_MS = 30_000;

const nats = values.nats ? await NatsServer.start() : undefined;
const server = await startServerProcess(nats ? ['--nats', nats.url, '--nats-prefix', `soak${randomBytes(4).toString('hex')}`] : []);
const pid = server.child.pid!;
let serverDied = false;
let stopping = false;
server.child.once('exit', (code, signal) => {
  if (stopping) return;
  serverDied = true;
  console.error(`server exited unexpectedly (${code ?? signal}):\n${server.output().slice(-2000)}`);
});
const busy = Array.from({ length: config.channels }, (_, i) => `soak:ch${i}`);
console.log(`soak: ${config.minutes} min on ${server.url} (pid ${pid}, ${config.broker} broker), ${config.ratePerSecond} publications/s over ${busy.length} channels`);

// Subscribed before the first publication, so each must see all of them.
const pace = { pauseMs: config.slowPauseMs, readMs: 100 };
const subscribers: LongLived[] = await Promise.all([
  ...KINDS.map((k) => openLongLived(k, server.url, busy, `${k}`)),
  ...KINDS.map((k) => openLongLived(k, server.url, busy, `${k} (slow)`, pace)),
]);
const publisher = new SoakPublisher(server.url, server.apiKey, busy, config.payloadBytes);
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
publisher.start(config.ratePerSecond);
const churn = startChurn(server.url, KINDS, config.churnersPerTransport, busy);

async function takeSample(): Promise<Sample> {
  const at = elapsed();
  const i = await info(server.url, server.apiKey);
  return {
    at,
    warmup: at < warmupS,
    rss: vmRss(pid),
    heapUsed: i.memory.heapUsed,
    heapTotal: i.memory.heapTotal,
    external: i.memory.external,
    connections: i.connections,
    subscriptions: i.subscriptions,
    channels: i.channels,
    churnCycles: churn.stats.cycles,
    published: publisher.sent,
  };
}

const samples: Sample[] = [];
console.log(`\nsamples every ${sampleS} s (* = warm-up, first ${warmupS} s)`);
console.log(tableHeader());
for (let next = 0; next <= totalS && !serverDied; next += sampleS) {
  await sleep(Math.max(0, next * 1000 - (performance.now() - started)));
  if (serverDied) break;
  const s = await takeSample();
  samples.push(s);
  console.log(tableRow(s));
}

await churn.stop();
await publisher.stop();
for (const s of subscribers) s.hurry();
const deadline = Date.now() + CATCH_UP_MS;
while (Date.now() < deadline && !subscribers.every((s) => s.dropped || s.check.caughtUp(publisher.published))) await sleep(100);
const checks: CheckReport[] = subscribers.map((s) => s.check.finish(publisher.published));
await Promise.all(subscribers.map((s) => s.close()));

// Every client has left: the server should hold no connection or subscription any more.
let idle: Awaited<ReturnType<typeof info>> | undefined;
const idleDeadline = Date.now() + 10_000;
while (!serverDied && Date.now() < idleDeadline) {
  idle = await info(server.url, server.apiKey);
  if (idle.connections === 0 && idle.subscriptions === 0) break;
  await sleep(200);
}
const idleRss = serverDied ? undefined : vmRss(pid);
stopping = true;
if (!serverDied) await server.stop();
await nats?.close();

const summary = Object.fromEntries(MEMORY_KEYS.map((k) => [k, summarize(samples, k) ?? null]));
const failed = serverDied || checks.some((c) => c.lost > 0 || c.gaps > 0 || c.outOfOrder > 0);
const report = {
  startedAt: new Date(Date.now() - elapsed() * 1000).toISOString(),
  config,
  samples,
  summary,
  afterClientsLeft: idle && {
    connections: idle.connections,
    subscriptions: idle.subscriptions,
    channels: idle.channels,
    rss: idleRss,
    heapUsed: idle.memory.heapUsed,
  },
  subscribers: checks,
  publisher: { sent: publisher.sent, failed: publisher.failed, errors: publisher.errors, last: Object.fromEntries(publisher.published) },
  churn: churn.stats,
  serverDied,
  ok: !failed,
};
const dir = fileURLToPath(new URL('../.tmp/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = `${dir}soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

console.log(`\nmemory after warm-up (${samples.filter((s) => !s.warmup).length} samples):`);
for (const k of MEMORY_KEYS) console.log(`  ${formatSummary(k, summary[k] ?? undefined)}`);
if (idle) {
  console.log(
    `  after all clients left: ${idle.connections} connections, ${idle.subscriptions} subscriptions, ${idle.channels} channels, ` +
      `rss ${((idleRss ?? 0) / 1048576).toFixed(1)} MB, heapUsed ${(idle.memory.heapUsed / 1048576).toFixed(1)} MB`,
  );
}
console.log(`\npublished ${publisher.sent} (${publisher.failed} failed); churn: ${churn.stats.cycles} cycles, ${churn.stats.errors} errors`);
console.log(`  ${Object.entries(churn.stats.exits).map(([k, n]) => `${k} ${n}`).join(', ')}`);
for (const e of [...publisher.errors.slice(0, 5), ...churn.stats.lastErrors.slice(-5)]) console.log(`  ! ${e}`);
console.log('\nlong-lived subscribers:');
console.table(checks.map(({ problems: _p, disconnects, ...c }) => ({ ...c, disconnects: disconnects.length })));
for (const c of checks) for (const p of c.problems.slice(0, 5)) console.log(`  ! ${c.name}: ${p}`);
console.log(`\nreport: ${file}`);
if (serverDied) console.log('FAILED: the server process died');
else console.log(failed ? 'FAILED: a long-lived subscriber missed publications or saw them out of order' : 'ok: every long-lived subscriber got every publication in order');
process.exit(failed ? 1 : 0);
