// Clients that come and go on every transport and leave in every way real ones do: before their
// subscription is confirmed, mid-stream without a goodbye, mid-poll, cleanly. Whatever the server
// keeps per client must go with them; the soak's memory samples show if it does not.
import type { ClientRequest } from 'node:http';
import WebSocket from 'ws';
import type { ServerFrame } from '../contract/index.js';
import { get, pollJson, readSseEvents, sleep } from './soak-wire.js';

export type ChurnTransport = 'websocket' | 'sse' | 'poll';

export interface ChurnStats {
  cycles: number;
  publications: number;
  /** Failures not caused by the client leaving on purpose (refused, bad status, hung). */
  errors: number;
  /** Cycles per `transport:exit`. */
  exits: Record<string, number>;
  lastErrors: string[];
}

/** How one cycle ended, and what it received. */
interface Outcome {
  exit: string;
  publications: number;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
/** A cycle that has not ended by then counts as an error: the server stopped answering. */
const CYCLE_CAP_MS = 30_000;

/** Resolves after `n` publications or `ms`, whichever comes first. */
function stay(ms: number): { publication(): void; done: Promise<void>; count(): number } {
  let received = 0;
  let want = between(1, 6);
  let wake: () => void;
  const done = new Promise<void>((resolve) => (wake = resolve));
  const timer = setTimeout(() => wake(), ms);
  void done.then(() => clearTimeout(timer));
  return {
    publication() {
      received += 1;
      if (--want === 0) wake();
    },
    done,
    count: () => received,
  };
}

async function wsCycle(url: string, channels: string[]): Promise<Outcome> {
  const exit = pick(['before-subscribed', 'terminate', 'close', 'unsubscribe-close'] as const);
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  const s = stay(between(0, 2000));
  let subscribed = 0;
  let ready: () => void;
  const allSubscribed = new Promise<void>((resolve) => (ready = resolve));
  ws.on('message', (raw) => {
    const f = JSON.parse(raw.toString()) as ServerFrame;
    if (f.type === 'publication') s.publication();
    else if (f.type === 'subscribed' && ++subscribed === channels.length) ready();
  });
  const closed = new Promise<number>((resolve) => ws.once('close', resolve));
  const closedEarly = closed.then((code) => Promise.reject(new Error(`websocket closed by the server with ${code}`)));
  closedEarly.catch(() => {});
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  // After open, failures show as a close code; without a listener an 'error' would throw.
  ws.on('error', () => {});
  channels.forEach((channel, i) => ws.send(JSON.stringify({ id: i + 1, type: 'subscribe', channel })));
  if (exit === 'before-subscribed') {
    ws.terminate();
    return { exit, publications: 0 };
  }
  await Promise.race([allSubscribed.then(() => s.done), closedEarly]);
  if (exit === 'terminate') ws.terminate();
  else {
    if (exit === 'unsubscribe-close') channels.forEach((channel, i) => ws.send(JSON.stringify({ id: 100 + i, type: 'unsubscribe', channel })));
    ws.close(1000);
    const code = await closed;
    if (code !== 1000) throw new Error(`websocket closed with ${code}`);
  }
  return { exit, publications: s.count() };
}

async function sseCycle(url: string, channels: string[]): Promise<Outcome> {
  const exit = pick(['before-response', 'before-subscribed', 'mid-stream'] as const);
  const { req, response } = get(`${url}/sse?channels=${channels.join(',')}`);
  if (exit === 'before-response') {
    // Gone as soon as the request is on the wire.
    req.once('socket', (socket) => socket.once('connect', () => setImmediate(() => req.destroy())));
    await response.catch(() => {});
    return { exit, publications: 0 };
  }
  const res = await response;
  if (res.statusCode !== 200) throw new Error(`sse ${res.statusCode}`);
  if (exit === 'before-subscribed') {
    req.destroy();
    return { exit, publications: 0 };
  }
  const s = stay(between(0, 2000));
  let subscribed = 0;
  let ready: () => void;
  const allSubscribed = new Promise<void>((resolve) => (ready = resolve));
  let failed: (err: Error) => void;
  const ended = new Promise<never>((_, reject) => (failed = reject));
  ended.catch(() => {});
  readSseEvents(
    res,
    (event) => {
      if (event === 'publication') s.publication();
      else if (event === 'subscribed' && ++subscribed === channels.length) ready();
    },
    (err) => failed(err ?? new Error('sse stream ended by the server')),
  );
  await Promise.race([allSubscribed.then(() => s.done), ended]);
  req.destroy();
  return { exit, publications: s.count() };
}

async function pollCycle(url: string, channels: string[]): Promise<Outcome> {
  const exit = pick(['before-response', 'mid-poll', 'complete'] as const);
  const base = `${url}/poll?channels=${channels.join(',')}`;
  if (exit === 'before-response') {
    const { req, response } = get(`${base}&timeout=1000`);
    req.once('socket', (socket) => socket.once('connect', () => setImmediate(() => req.destroy())));
    await response.catch(() => {});
    return { exit, publications: 0 };
  }
  const first = await pollJson(base, false);
  let cursor = first.cursor;
  let publications = 0;
  if (exit === 'mid-poll') {
    // Leaves while the server holds the poll open (always so on the quiet channel).
    let req: ClientRequest | undefined;
    const pending = pollJson(`${base}&cursor=${cursor}&timeout=5000`, false, (r) => (req = r));
    pending.catch(() => {});
    await sleep(between(0, 300));
    req!.destroy();
    return { exit, publications };
  }
  for (let i = between(1, 4); i > 0; i--) {
    const r = await pollJson(`${base}&cursor=${cursor}&timeout=1000`, false);
    publications += r.publications.length;
    cursor = r.cursor;
  }
  return { exit, publications };
}

const CYCLES = { websocket: wsCycle, sse: sseCycle, poll: pollCycle } as const;

export interface Churner {
  readonly stats: ChurnStats;
  /** Stops starting new cycles and waits for the running ones. */
  stop(): Promise<void>;
}

/**
 * `width` clients per transport, each a loop of cycles. A cycle subscribes to one or two of `busy`,
 * the quiet channel (nothing is published there) and a fresh channel of its own.
 */
export function startChurn(url: string, transports: ChurnTransport[], width: number, busy: string[]): Churner {
  const stats: ChurnStats = { cycles: 0, publications: 0, errors: 0, exits: {}, lastErrors: [] };
  let stopped = false;
  let fresh = 0;
  const channelsFor = () => {
    const pool = [...busy, 'soak:quiet', `soak:churn-${++fresh}`];
    const a = pick(pool);
    const b = pick(pool);
    return a === b || Math.random() < 0.5 ? [a] : [a, b];
  };
  const loop = async (transport: ChurnTransport) => {
    while (!stopped) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const cap = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('cycle hung')), CYCLE_CAP_MS)));
        const { exit, publications } = await Promise.race([CYCLES[transport](url, channelsFor()), cap]);
        stats.cycles += 1;
        stats.publications += publications;
        const key = `${transport}:${exit}`;
        stats.exits[key] = (stats.exits[key] ?? 0) + 1;
      } catch (err) {
        stats.errors += 1;
        stats.lastErrors.push(`${transport}: ${err instanceof Error ? err.message : String(err)}`);
        if (stats.lastErrors.length > 20) stats.lastErrors.shift();
      } finally {
        clearTimeout(timer);
      }
      await sleep(between(0, 100));
    }
  };
  const loops = transports.flatMap((t) => Array.from({ length: width }, () => loop(t)));
  return {
    stats,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
