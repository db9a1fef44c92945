import { type AddressInfo, type Socket, connect as netConnect, createServer } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { expect, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type SubscriptionStateEvent } from '../../client/index.js';
import {
  HistoryResponse,
  type Publication,
  Publication as PublicationSchema,
  type StreamPosition,
  type SubscribeResult,
  SubscribeResult as SubscribeResultSchema,
  ServerFrame,
  formatCursor,
} from '../../contract/index.js';
import type { TestNode } from './cluster.js';
import { type TransportName, pollOnce } from './raw-clients.js';
import { readSse } from './sse-reader.js';

/**
 * Helpers for the fault-injection tests: a publisher that records what was acknowledged,
 * subscribers that outlive the node they are connected to, and the exactly-once check.
 */

/** One publish attempt; `seq` is also the publication's data, so a stored copy can be traced back to it. */
export interface Attempt {
  seq: number;
  node: string;
  /** HTTP status; 0 when no response came (refused, reset, or our own timeout). */
  status: number;
  /** When it started, ms on the log's clock (performance.now() at construction = 0). */
  at: number;
  ms: number;
  epoch?: string;
  offset?: number;
  code?: string;
  retryable?: boolean;
  error?: string;
}

export class PublishLog {
  readonly attempts: Attempt[] = [];
  private readonly origin = performance.now();
  constructor(readonly channel: string) {}

  /** Now, on the clock of `Attempt.at`. */
  now(): number {
    return Math.round(performance.now() - this.origin);
  }

  get acked(): Attempt[] {
    return this.attempts.filter((a) => a.status === 200);
  }

  get failed(): Attempt[] {
    return this.attempts.filter((a) => a.status !== 200);
  }

  /** One publication of `{ seq }`; never throws, every outcome is recorded. */
  async publish(node: TestNode, timeoutMs = 10_000): Promise<Attempt> {
    const seq = this.attempts.length + 1;
    const started = performance.now();
    const attempt: Attempt = { seq, node: node.id, status: 0, at: Math.round(started - this.origin), ms: 0 };
    this.attempts.push(attempt);
    try {
      const res = await node.api('/api/publish', {
        method: 'POST',
        body: JSON.stringify({ channel: this.channel, data: { seq } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      attempt.status = res.status;
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (res.status === 200) Object.assign(attempt, { epoch: body.epoch, offset: body.offset });
      else Object.assign(attempt, { code: body.code, retryable: body.retryable, error: body.message });
    } catch (err) {
      attempt.error = String(err);
    }
    attempt.ms = Math.round(performance.now() - started);
    return attempt;
  }
}

export const seqOf = (p: Publication): number => (p.data as { seq: number }).seq;

/** `epoch:offset:seq` per publication: equal lists mean same positions, same data, same order. */
export const trace = (pubs: Publication[]): string[] => pubs.map((p) => `${p.epoch}:${p.offset}:${seqOf(p)}`);

export type History = ReturnType<typeof HistoryResponse.parse>;

export async function fetchHistory(node: TestNode, channel: string): Promise<History> {
  const res = await node.api(`/api/channels/${channel}/history`);
  if (res.status !== 200) throw new Error(`history on ${node.id}: ${res.status} ${await res.text()}`);
  return HistoryResponse.parse(await res.json());
}

/**
 * History holds one contiguous run of offsets in one epoch, every acknowledged publication at
 * the position its acknowledgement gave, no data twice, and nothing that was never sent.
 */
export function expectHistoryKeepsAcked(history: History, log: PublishLog): void {
  const pubs = history.publications;
  expect(pubs.map((p) => p.offset)).toEqual(pubs.map((_, i) => i + 1));
  expect([...new Set(pubs.map((p) => p.epoch))]).toEqual([history.epoch]);
  const seqs = pubs.map(seqOf);
  expect(seqs.filter((s, i) => seqs.indexOf(s) !== i), 'data stored twice').toEqual([]);
  const attempted = new Set(log.attempts.map((a) => a.seq));
  expect(seqs.filter((s) => !attempted.has(s)), 'data never sent').toEqual([]);
  const byOffset = new Map(pubs.map((p) => [p.offset, p]));
  const lost = log.acked.filter((a) => {
    const p = byOffset.get(a.offset!);
    return !p || p.epoch !== a.epoch || seqOf(p) !== a.seq;
  });
  expect(lost, 'acknowledged but not in history at its position').toEqual([]);
}

/* ---------- Subscribers ---------- */

export interface Subscriber {
  readonly name: string;
  readonly publications: Publication[];
  close(): Promise<void>;
}

export interface ClientSubscriber extends Subscriber {
  readonly hub: Hubbub;
  readonly states: SubscriptionStateEvent[];
  /** `node` of every `connected` event (WebSocket names it; SSE and poll do not). */
  readonly connections: Array<string | undefined>;
  readonly errors: string[];
}

/** A client-library subscription forced onto one transport, reconnecting fast (the outages here are short). */
export function subscribeClient(baseUrl: string, transport: TransportName, channel: string): ClientSubscriber {
  const hub = new Hubbub(baseUrl, {
    transports: [transport],
    WebSocket,
    minReconnectDelay: 100,
    maxReconnectDelay: 1_000,
    pollTimeout: 5_000,
    connectTimeout: 5_000,
  });
  const publications: Publication[] = [];
  const states: SubscriptionStateEvent[] = [];
  const connections: Array<string | undefined> = [];
  const errors: string[] = [];
  hub.on('connected', (info) => connections.push(info.node));
  hub.on('error', (err) => errors.push(String(err)));
  hub.subscribe(channel, { onPublication: (p) => publications.push(p), onState: (s) => states.push(s) });
  return { name: `client/${transport}`, hub, publications, states, connections, errors, close: async () => hub.close() };
}

/** How often the subscription was re-established after a lost connection, and whether each later subscribe recovered. */
export function resubscriptions(states: SubscriptionStateEvent[]): { reconnects: number; recovered: boolean[] } {
  return {
    reconnects: states.filter((s) => s.state === 'subscribing' && s.reason === 'reconnect').length,
    recovered: states.flatMap((s) => (s.state === 'subscribed' ? [s.recovered] : [])).slice(1),
  };
}

export interface RawFollower extends Subscriber {
  readonly results: SubscribeResult[];
  /** Base URL that gave each subscribe result. */
  readonly servedBy: string[];
  readonly errors: string[];
}

/**
 * One raw-protocol subscriber that starts on `urls[0]` and, whenever its connection ends, resumes
 * on the next URL from the last position it saw — the server's own recovery, with no client
 * library in between. Records exactly what the servers sent.
 */
export function followRaw(transport: TransportName, urls: string[], channel: string): RawFollower {
  const publications: Publication[] = [];
  const results: SubscribeResult[] = [];
  const servedBy: string[] = [];
  const errors: string[] = [];
  let position: StreamPosition | undefined;
  let stopped = false;
  let cancel: () => void = () => undefined;

  const onResult = (url: string, r: SubscribeResult) => {
    results.push(SubscribeResultSchema.parse(r));
    servedBy.push(url);
    position = { epoch: r.epoch, offset: r.offset };
  };
  const onPub = (p: Publication) => {
    publications.push(PublicationSchema.parse(p));
    position = { epoch: p.epoch, offset: p.offset };
  };
  const cursor = () => (position ? formatCursor([position]) : undefined);

  const sessions: Record<TransportName, (url: string) => Promise<void>> = {
    websocket: (url) =>
      new Promise<void>((resolve) => {
        const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
        cancel = () => ws.terminate();
        ws.on('open', () => ws.send(JSON.stringify({ id: 1, type: 'subscribe', channel, ...(position ? { since: position } : {}) })));
        ws.on('message', (raw) => {
          try {
            const frame = ServerFrame.parse(JSON.parse(raw.toString()));
            if (frame.type === 'subscribed') {
              const { id: _id, type: _type, ...r } = frame;
              onResult(url, r);
            } else if (frame.type === 'publication') {
              const { type: _type, ...pub } = frame;
              onPub(pub);
            } else if (frame.type === 'error') throw new Error(`error frame ${frame.code}`);
          } catch (err) {
            errors.push(`${url} websocket: ${String(err)}`);
            ws.terminate();
          }
        });
        ws.on('error', (err) => errors.push(`${url} websocket: ${String(err)}`));
        ws.on('close', () => resolve());
      }),
    async sse(url) {
      const abort = new AbortController();
      cancel = () => abort.abort();
      const params = new URLSearchParams({ channels: channel });
      const c = cursor();
      if (c !== undefined) params.set('cursor', c);
      const res = await fetch(`${url}/sse?${params}`, { signal: abort.signal });
      if (res.status !== 200) throw new Error(`sse ${res.status} ${await res.text()}`);
      for await (const ev of readSse(res.body!)) {
        if (ev.event === 'subscribed') onResult(url, JSON.parse(ev.data) as SubscribeResult);
        else if (ev.event === 'publication') onPub(JSON.parse(ev.data) as Publication);
        else if (ev.event === 'disconnect') errors.push(`${url} sse disconnect ${ev.data}`);
      }
    },
    async poll(url) {
      const abort = new AbortController();
      cancel = () => abort.abort();
      for (let first = true; !stopped; first = false) {
        const r = await pollOnce(url, [channel], cursor(), abort.signal, 5_000);
        // Every response repeats the subscription; only a session's first one, or a lost position, is news.
        for (const s of r.subscriptions) if (first || !s.recovered) onResult(url, s);
        r.publications.forEach(onPub);
      }
    },
  };

  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const url = urls[i % urls.length]!;
      try {
        await sessions[transport](url);
      } catch (err) {
        if (!stopped) errors.push(`${url} ${transport}: ${String(err)}`);
      }
      if (stopped) return;
      // The connection ended: resume on the next node after a short pause (a reconnect backoff).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        cancel = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();

  return {
    name: `raw/${transport}`,
    publications,
    results,
    servedBy,
    errors,
    async close() {
      stopped = true;
      cancel();
      await loop;
    },
  };
}

/** Resolves once `check` passes; returns how long that took, in ms. */
export async function timeUntil(check: () => unknown, timeoutMs: number, interval = 100): Promise<number> {
  const started = performance.now();
  await vi.waitFor(check, { timeout: timeoutMs, interval });
  return Math.round(performance.now() - started);
}

/** Server name (`-n`) of the JetStream leader of a stream. */
export async function streamLeader(urls: string[], stream: string): Promise<string> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    if (!leader) throw new Error(`stream ${stream} has no leader`);
    return leader;
  } finally {
    await nc.close();
  }
}

/* ---------- A network link that can go silent ---------- */

export interface TcpProxy {
  url: string;
  /** Stops forwarding in both directions without closing anything: the peer just goes quiet, as in a partition. */
  freeze(): void;
  /** Forwards again, including whatever was held back. */
  thaw(): void;
  close(): Promise<void>;
}

/** A TCP relay to `target` (nats://host:port), listening on a random loopback port. */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const held = new Map<Socket, Buffer[]>();
  let frozen = false;
  // Data is forwarded by hand, not with pipe(): a piped source resumes itself when its destination drains.
  const relay = (from: Socket, to: Socket) => {
    sockets.add(from);
    held.set(to, []);
    from.on('data', (chunk: Buffer) => (frozen ? held.get(to)!.push(chunk) : to.write(chunk)));
    from.on('error', () => from.destroy());
    from.on('close', () => {
      sockets.delete(from);
      held.delete(to);
      to.destroy();
    });
  };
  const server = createServer((client) => {
    const upstream = netConnect(Number(port), hostname);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `nats://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freeze() {
      frozen = true;
    },
    thaw() {
      for (const [to, chunks] of held) for (const c of chunks.splice(0)) to.write(c);
      frozen = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
