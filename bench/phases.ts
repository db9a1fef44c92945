// The measurements the bench makes on one running system (Hubbub or the floor): memory per idle
// subscriber, a fan-out as fast as the server takes publications, and latency at a fixed rate.
// Server cost is read from /proc of the server processes, never from the clients.
import type { ClientPool } from './client-pool.js';
import { cpuUs, rssKb, sumOver } from './proc-stats.js';
import type { Publisher } from './publisher.js';
import { type Transport, now } from './subscribers.js';
import type { BenchNats } from './systems.js';

/** A running system under test. */
export interface System {
  name: 'hubbub' | 'floor';
  mode: 'memory' | 'nats' | 'nats3';
  /** Where subscribers connect (several nodes: spread over them). */
  urls: string[];
  /** The server processes whose CPU and memory are measured. */
  pids: number[];
  publisher: Publisher;
  tokenSecret: string | undefined;
  /** The nats-server of the NATS modes: its CPU and message counts are reported beside the server's. */
  nats: BenchNats | undefined;
  stop(): Promise<void>;
}

export interface Delivery {
  subscribers: number;
  messages: number;
  expected: number;
  delivered: number;
  lost: number;
  /** When something was lost: how many subscribers got how many publications ({count: subscribers}). */
  shortfall?: Record<number, number>;
  dups: number;
  unrecovered: number;
  /** Long-poll: publications per poll answer (how much each answer batched). */
  perAnswer?: number;
  dropped: number;
  seconds: number;
  perSecond: number;
  /** Publications per second the publisher got accepted (the rate actually offered). */
  published: number;
  /** Publish requests refused or failed; `expected` counts only what was accepted. */
  publishFailed: number;
  /** How long publish requests took to be answered, ms. */
  publishP50: number;
  publishP99: number;
  /** NATS modes: the nats-server's CPU per delivery, µs, and its messages (in + out) per publication. */
  natsCpuPerDelivery?: number;
  natsMsgsPerPublication?: number;
  /** Server CPU per delivery, µs (all server processes). */
  cpuPerDelivery: number;
  p50?: number;
  p99?: number;
  /** Server CPU over the phase as a share of one core: near 1, the server (one thread) was the limit. */
  serverCores: number;
  clientCores: number[];
  /** The clients' CPU per delivery, µs: what the bench itself spends. */
  clientCpuPerDelivery: number;
  errors: string[];
}

export interface Idle {
  subscribers: number;
  failed: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  kbPerConnection: number;
  errors: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** RSS once it stopped moving (two samples 250 ms apart within 0.5%), or after 5 s. */
export async function settledRss(pids: number[]): Promise<number> {
  let last = sumOver(pids, rssKb);
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    const rss = sumOver(pids, rssKb);
    if (Math.abs(rss - last) <= last * 0.005) return rss;
    last = rss;
  }
  return last;
}

export async function openOrThrow(pool: ClientPool, sys: System, transport: Transport, channels: string[], count: number) {
  const r = await pool.open({ transport, urls: sys.urls, channels, count, tokenSecret: sys.tokenSecret });
  if (r.opened === 0 && count > 0) throw new Error(`${sys.name}: no ${transport} subscriber opened: ${r.errors.join('; ')}`);
  return r;
}

/** The JIT and the first connections' one-off allocations stay out of the figures that follow. */
export async function warmUp(pool: ClientPool, sys: System, transport: Transport, stallMs: number): Promise<void> {
  await openOrThrow(pool, sys, transport, ['bench:warm'], 100);
  await fanOut(pool, sys, 'bench:warm', 100, 50, stallMs);
  await pool.close();
}

/**
 * Server RSS per idle subscriber (a waiting poll for long-poll), KB: the growth from the first half
 * of `count` to all of it. Opening thousands of connections at once makes V8 grow its young
 * generation (up to tens of MB, once), which the first half absorbs; the second half's growth is
 * what each further connection costs.
 */
export async function idleMemory(pool: ClientPool, sys: System, transport: Transport, count: number): Promise<Idle> {
  const before = await settledRss(sys.pids);
  const open = (n: number) => pool.open({ transport, urls: sys.urls, channels: ['bench:idle'], count: n, tokenSecret: sys.tokenSecret });
  const first = await open(Math.floor(count / 2));
  const half = await settledRss(sys.pids);
  const second = await open(count - Math.floor(count / 2));
  const after = await settledRss(sys.pids);
  await pool.close();
  return {
    subscribers: first.opened + second.opened,
    failed: first.failed + second.failed,
    rssBeforeKb: before,
    rssAfterKb: after,
    kbPerConnection: second.opened ? round((after - half) / second.opened) : NaN,
    errors: [...first.errors, ...second.errors],
  };
}

/**
 * Waits until `expected` publications arrived or nothing arrived for `stallMs`. The server's CPU is
 * read whenever progress shows, so time spent waiting for what never comes is not counted.
 */
async function untilDelivered(pool: ClientPool, pids: number[], expected: number, stallMs: number): Promise<{ cpu: number; at: number }> {
  let seen = -1;
  let lastProgress = Date.now();
  let cpu = { cpu: sumOver(pids, cpuUs), at: now() };
  for (;;) {
    const c = await pool.counts();
    if (c.unique !== seen) {
      seen = c.unique;
      lastProgress = Date.now();
      cpu = { cpu: sumOver(pids, cpuUs), at: now() };
    }
    if (c.unique >= expected || Date.now() - lastProgress > stallMs) return cpu;
    await sleep(c.unique === 0 ? 5 : 25);
  }
}

/** `requests` publish requests that together should make `planned` deliveries. */
async function measure(pool: ClientPool, sys: System, subscribers: number, messages: number, requests: number, planned: number, publishAll: () => Promise<void>, latencies: boolean, stallMs: number): Promise<Delivery> {
  await pool.reset(latencies, latencies ? planned : 0);
  const nats0 = sys.nats && { cpu: cpuUs(sys.nats.pid), varz: await sys.nats.varz() };
  const cpu0 = sumOver(sys.pids, cpuUs);
  const t0 = now();
  const record = sys.publisher.timed();
  await publishAll();
  const publishSeconds = (now() - t0) / 1000;
  const expected = Math.round((planned * (requests - record.failed)) / requests);
  const end = await untilDelivered(pool, sys.pids, expected, stallMs);
  const nats1 = sys.nats && nats0 && { cpu: cpuUs(sys.nats.pid), varz: await sys.nats.varz() };
  const r = await pool.report();
  const took = Float64Array.from(record.durations).sort();
  const seconds = Math.max(r.lastAt - t0, 1) / 1000;
  const sorted = Float64Array.from(r.latencies).sort();
  return {
    subscribers,
    messages,
    expected,
    delivered: r.unique,
    lost: expected - r.unique,
    ...(expected > r.unique ? { shortfall: r.spread } : {}),
    dups: r.dups,
    unrecovered: r.unrecovered,
    ...(r.answers > 0 ? { perAnswer: round(r.unique / r.answers, 1) } : {}),
    dropped: r.dropped,
    seconds: round(seconds, 2),
    perSecond: Math.round(r.unique / seconds),
    published: Math.round((messages * (requests - record.failed)) / requests / publishSeconds),
    publishFailed: record.failed,
    publishP50: round(percentile(took, 50), 2),
    publishP99: round(percentile(took, 99), 2),
    ...(nats0 && nats1 && r.unique
      ? {
          natsCpuPerDelivery: round((nats1.cpu - nats0.cpu) / r.unique, 2),
          natsMsgsPerPublication: round((nats1.varz.in_msgs + nats1.varz.out_msgs - nats0.varz.in_msgs - nats0.varz.out_msgs) / messages, 1),
        }
      : {}),
    cpuPerDelivery: r.unique ? round((end.cpu - cpu0) / r.unique, 2) : NaN,
    serverCores: round((end.cpu - cpu0) / 1000 / Math.max(end.at - t0, 1), 2),
    clientCpuPerDelivery: r.unique ? round(r.clientCpuUs / r.unique, 2) : NaN,
    ...(latencies ? { p50: round(percentile(sorted, 50), 2), p99: round(percentile(sorted, 99), 2) } : {}),
    clientCores: r.clientCores,
    errors: [...record.errors, ...r.errors].slice(0, 5),
  };
}

/** `messages` publications to one channel of `subscribers`, as fast as the server accepts them (`inFlight` at a time). */
export function fanOut(pool: ClientPool, sys: System, channel: string, subscribers: number, messages: number, stallMs: number, latencies = false): Promise<Delivery> {
  return measure(pool, sys, subscribers, messages, messages, subscribers * messages, () => sys.publisher.burst(messages, () => sys.publisher.publish(channel)), latencies, stallMs);
}

/**
 * Publications at a fixed rate for `seconds`, open loop: each is sent (and time-stamped) on
 * schedule whether or not the last was answered, as a backend would, so a server that falls behind
 * shows it in the latency instead of slowing the publisher down (no coordinated omission).
 */
export function atRate(pool: ClientPool, sys: System, channel: string, subscribers: number, rate: number, seconds: number, stallMs: number): Promise<Delivery> {
  const messages = Math.max(1, Math.round(rate * seconds));
  return measure(pool, sys, subscribers, messages, messages, subscribers * messages, async () => {
    const start = performance.now();
    const sent: Array<Promise<boolean>> = [];
    for (let i = 0; i < messages; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      sent.push(sys.publisher.publish(channel));
    }
    await Promise.all(sent);
  }, true, stallMs);
}

/** `rounds` broadcasts to every channel of `channels`, 1,000 channels per request, over `subscribers` spread on them. */
export function spread(pool: ClientPool, sys: System, channels: string[], subscribers: number, rounds: number, stallMs: number): Promise<Delivery> {
  const chunks = Math.ceil(channels.length / 1000);
  return measure(pool, sys, subscribers, rounds * channels.length, rounds * chunks, subscribers * rounds, () =>
    sys.publisher.burst(rounds * chunks, (k) => sys.publisher.broadcast(channels.slice((k % chunks) * 1000, (k % chunks) * 1000 + 1000))),
  false, stallMs);
}

/** The run with the median deliveries/s, with lost and recovered:false summed over all runs. */
export function median(runs: Delivery[]): Delivery {
  const sorted = [...runs].sort((a, b) => a.perSecond - b.perSecond);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const cpu = runs.map((r) => r.cpuPerDelivery).sort((a, b) => a - b);
  return {
    ...mid,
    cpuPerDelivery: cpu[Math.floor((cpu.length - 1) / 2)]!,
    lost: runs.reduce((s, r) => s + r.lost, 0),
    unrecovered: runs.reduce((s, r) => s + r.unrecovered, 0),
    dups: runs.reduce((s, r) => s + r.dups, 0),
  };
}
