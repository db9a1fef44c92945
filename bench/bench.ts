// npm run bench -- [--transports websocket,sse,poll] [--subscribers 1000] [--messages 500] [--bytes 100]
//                  [--rate 20] [--duration 10] [--poll-rate 50] [--idle 5000] [--runs 3] [--history <n>]
//                  [--nats] [--nats3] [--auth] [--workers 2] [--stall 30] [--in-flight 8]
//                  [--scale] [--steps 1000,5000,10000,20000] [--scale-messages 5]
//                  [--channels] [--channel-count 10000] [--per-channel 2] [--profile DIR] [--node-flags=--trace-gc]
//                  [--metrics on|off] [--ingest unix|udp|unix,udp]
// Measures Hubbub beside a raw floor server (floor-server.ts) in the same run, every transport, and
// prints issue #8's table with the ratios: deliveries/s in a fan-out, server CPU µs per delivery
// (/proc/<pid>/stat), p50/p99 latency at a fixed rate, KB per idle connection (/proc/<pid>/status),
// lost deliveries and recovered:false answers. Fan-outs are the median of three runs (long-poll
// batches by how fast pollers come back), with a fixed-rate long-poll case beside them.
// --scale: memory per connection from 1,000 to 20,000 subscribers and a fan-out with p99 at each
// step. --channels: 10,000 channels × 2 subscribers against one channel. Writes .tmp/bench-*.json.
// --ingest unix|udp: only the ingest doors (ingest.ts): messages through the door, deliveries/s to
// --subscribers WebSocket subscribers (default 100 here), datagrams sent vs published.
// --profile DIR: every Hubbub process writes a CPU profile there (node --cpu-prof) when it stops.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runChannels } from './channels.js';
import { type IngestDoorName, ingestTable, runIngest } from './ingest.js';
import { ClientPool } from './client-pool.js';
import { type Delivery, type System, atRate, fanOut, idleMemory, median, openOrThrow, warmUp } from './phases.js';
import { loadAverage } from './proc-stats.js';
import { type TransportResult, costTable, mainTable, natsTable, warnings } from './report.js';
import { runScale } from './scale.js';
import { fdLimit } from './server-process.js';
import { type Transport, TRANSPORTS } from './subscribers.js';
import { BenchNats, type SystemOptions, startersFor, withSystem } from './systems.js';

const { values: o } = parseArgs({
  options: {
    transports: { type: 'string', default: TRANSPORTS.join(',') },
    subscribers: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '500' },
    bytes: { type: 'string', default: '100' },
    rate: { type: 'string', default: '20' },
    duration: { type: 'string', default: '10' },
    'poll-rate': { type: 'string', default: '50' },
    idle: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '3' },
    history: { type: 'string' },
    'in-flight': { type: 'string', default: '8' },
    nats: { type: 'boolean', default: false },
    nats3: { type: 'boolean', default: false },
    auth: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    stall: { type: 'string', default: '30' },
    scale: { type: 'boolean', default: false },
    steps: { type: 'string', default: '1000,5000,10000,20000' },
    'scale-messages': { type: 'string', default: '5' },
    channels: { type: 'boolean', default: false },
    'channel-count': { type: 'string', default: '10000' },
    'per-channel': { type: 'string', default: '2' },
    profile: { type: 'string' },
    'node-flags': { type: 'string' },
    metrics: { type: 'string', default: 'on' },
    ingest: { type: 'string' },
  },
});

export interface BenchConfig {
  transports: Transport[];
  subscribers: number;
  messages: number;
  rate: number;
  duration: number;
  pollRate: number;
  idle: number;
  runs: (t: Transport) => number;
  stallMs: number;
  modes: System['mode'][];
  steps: number[];
  scaleMessages: number;
  channelCount: number;
  perChannel: number;
  /** The file-descriptor limit the servers run under. */
  fdLimit: number;
}

const fd = fdLimit(65_536);
const config: BenchConfig = {
  transports: o.transports.split(',') as Transport[],
  subscribers: Number(o.subscribers),
  messages: Number(o.messages),
  rate: Number(o.rate),
  duration: Number(o.duration),
  pollRate: Number(o['poll-rate']),
  idle: Number(o.idle),
  runs: () => Number(o.runs),
  stallMs: Number(o.stall) * 1000,
  modes: ['memory', ...(o.nats ? (['nats'] as const) : []), ...(o.nats3 ? (['nats3'] as const) : [])],
  steps: o.steps.split(',').map(Number),
  scaleMessages: Number(o['scale-messages']),
  channelCount: Number(o['channel-count']),
  perChannel: Number(o['per-channel']),
  fdLimit: fd.limit,
};
for (const t of config.transports) if (!TRANSPORTS.includes(t)) throw new Error(`unknown transport ${t}; known: ${TRANSPORTS.join(', ')}`);

const history = o.history !== undefined ? Number(o.history) : Math.max(100, config.messages);
const systemOptions: SystemOptions = { history, inFlight: Number(o['in-flight']), payloadBytes: Number(o.bytes), auth: o.auth, fdPrefix: fd.prefix, profileDir: o.profile, nodeFlags: o['node-flags']?.split(' ').filter(Boolean) ?? [], metrics: o.metrics !== 'off' };
const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const brief = (d: Delivery) =>
  `${d.perSecond}/s, ${d.cpuPerDelivery} µs/delivery${d.p99 !== undefined ? `, p50 ${d.p50} p99 ${d.p99} ms` : ''}, lost ${d.lost}, recovered:false ${d.unrecovered}${d.perAnswer !== undefined ? `, ${d.perAnswer} publications/answer` : ''}, publish p50 ${d.publishP50} p99 ${d.publishP99} ms${d.natsCpuPerDelivery !== undefined ? `, nats-server ${d.natsCpuPerDelivery} µs/delivery ${d.natsMsgsPerPublication} msgs/publication` : ''}, server cores ${d.serverCores}, client cores ${d.clientCores.join('/')} (${d.clientCpuPerDelivery} µs/delivery)`;

/** Everything the table needs for one transport on one system: a fresh server process each time. */
async function measureTransport(pool: ClientPool, sys: System, t: Transport): Promise<TransportResult> {
  await warmUp(pool, sys, t, config.stallMs);
  const idle = config.idle > 0 ? await idleMemory(pool, sys, t, config.idle) : undefined;
  if (idle) log(`${sys.name} ${sys.mode} ${t}: idle ${idle.subscribers} → ${idle.kbPerConnection} KB each`);
  await openOrThrow(pool, sys, t, ['bench:fan'], config.subscribers);
  const runs: Delivery[] = [];
  for (let i = 0; i < config.runs(t); i++) {
    runs.push(await fanOut(pool, sys, 'bench:fan', config.subscribers, config.messages, config.stallMs));
    log(`${sys.name} ${sys.mode} ${t}: fan-out ${brief(runs.at(-1)!)}`);
  }
  const rate = config.rate > 0 ? await atRate(pool, sys, 'bench:fan', config.subscribers, config.rate, config.duration, config.stallMs) : undefined;
  if (rate) log(`${sys.name} ${sys.mode} ${t}: ${config.rate}/s ${brief(rate)}`);
  const pollRate = t === 'poll' && config.pollRate > 0 ? await atRate(pool, sys, 'bench:fan', config.subscribers, config.pollRate, config.duration, config.stallMs) : undefined;
  if (pollRate) log(`${sys.name} ${sys.mode} ${t}: ${config.pollRate}/s ${brief(pollRate)}`);
  await pool.close();
  return { system: sys.name, mode: sys.mode, transport: t, idle, fanout: median(runs), runs, rate, pollRate };
}

async function runTable(pool: ClientPool, nats: BenchNats | undefined): Promise<TransportResult[]> {
  const results: TransportResult[] = [];
  for (const mode of config.modes) {
    for (const t of config.transports) {
      // Floor and Hubbub alternate per transport, so both meet the machine's load of the moment.
      for (const start of startersFor(mode, nats, systemOptions)) results.push(await withSystem(start, pool, (sys) => measureTransport(pool, sys, t)));
    }
  }
  return results;
}

const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim() + (execSync('git status --porcelain server', { encoding: 'utf8' }).trim() ? ' (server/ modified)' : '');
  } catch {
    return 'unknown';
  }
})();
const loadBefore = loadAverage();
const started = new Date();
log(`bench on ${commit}, load ${loadBefore}, ${fd.note}, ${o.workers} client processes`);
if (o.ingest !== undefined) {
  // The ingest doors alone: their own server processes and subscribers, none of the table's phases.
  const doors = o.ingest.split(',') as IngestDoorName[];
  for (const d of doors) if (d !== 'unix' && d !== 'udp') throw new Error(`--ingest unix|udp, not ${d}`);
  const subscribers = process.argv.includes('--subscribers') ? config.subscribers : 100;
  const messages = process.argv.includes('--messages') ? config.messages : 5000;
  const results = [];
  for (const d of doors) results.push(await runIngest(d, subscribers, messages, log));
  console.log(`Ingest bench ${started.toISOString()} on ${commit}, load ${loadBefore} before, ${loadAverage()} after:\n\n${ingestTable(results)}`);
  process.exit(0);
}
const nats = config.modes.some((m) => m !== 'memory') ? await BenchNats.start() : undefined;
const pool = await ClientPool.start(Number(o.workers), fd.prefix);
const out: Record<string, unknown> = { started: started.toISOString(), commit, node: process.version, fdLimit: fd.limit, config: { ...o } };
const printed: string[] = [];
try {
  if (!o.scale && !o.channels) {
    const results = await runTable(pool, nats);
    out['table'] = results;
    printed.push(mainTable(results, config.subscribers, config.rate, config.pollRate, config.runs));
    const nt = natsTable(results);
    if (nt) printed.push(`NATS mode against memory mode (Hubbub):\n\n${nt}`);
    printed.push(`Who was busy during the fan-outs (median run; ${o.workers} client processes, the publisher in the bench process):\n\n${costTable(results)}`);
    const warn = warnings(results);
    if (warn.length) printed.push(`Warnings:\n${warn.map((w) => `- ${w}`).join('\n')}`);
  }
  if (o.scale) {
    const scale = await runScale(pool, nats, config, systemOptions, log);
    out['scale'] = scale.results;
    printed.push(scale.markdown);
  }
  if (o.channels) {
    const channels = await runChannels(pool, nats, config, systemOptions, log);
    out['channels'] = channels.results;
    printed.push(channels.markdown);
  }
} finally {
  pool.stop();
  await nats?.close();
}
const loadAfter = loadAverage();
out['load'] = { before: loadBefore, after: loadAfter };
const header =
  `Bench ${started.toISOString()} on ${commit}, node ${process.version}; load average ${loadBefore} before, ${loadAfter} after ` +
  `(${execSync('nproc', { encoding: 'utf8' }).trim()} cores); ${fd.note}; clients in ${o.workers} processes; history ${history}; ${o['in-flight']} publishes in flight; ` +
  `${o.bytes} B payloads${o.auth ? '; auth: every subscriber presents a token' : ''}. Compare ratios within one run, not absolute figures across runs.`;
mkdirSync('.tmp', { recursive: true });
const file = `.tmp/bench-${started.toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify(out, null, 2));
console.log([header, ...printed, `JSON: ${file}`].join('\n\n'));
