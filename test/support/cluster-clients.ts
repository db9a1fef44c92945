import http from 'node:http';
import { vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type SubscriptionStateEvent, type TransportName } from '../../client/index.js';
import { SseParser } from './sse-parser.js';
import {
  type Publication,
  type StreamPosition,
  type SubscribeResult,
  Publication as PublicationSchema,
  SseConnectedEvent,
  SubscribeResult as SubscribeResultSchema,
} from '../../contract/index.js';
import type { Balancer } from './balancer.js';
import type { TestNode } from './cluster.js';
import type { RawSession } from './raw-clients.js';

/** Multi-node waits: explicit, and generous for a 2-core machine shared with other test runs. */
export const WAIT = { timeout: 10_000, interval: 20 };

/** The i-th item, round and round: spreads publications (or anything) over every node. */
export const rotate = <T>(items: readonly T[], i: number): T => items[i % items.length]!;

export interface Published {
  offset: number;
  data: string;
}

/**
 * Publishes `count` messages to `channel`, each on the next node of `nodes`. `burst` of them go out
 * at once, from consecutive nodes, so several nodes race for the channel's next offsets.
 * Returns what was published in offset order.
 */
export async function publishSpread(
  nodes: readonly TestNode[],
  channel: string,
  count: number,
  { burst = 1, first = 0 }: { burst?: number; first?: number } = {},
): Promise<Published[]> {
  const out: Published[] = [];
  for (let i = first; i < first + count; i += burst) {
    const batch = Array.from({ length: Math.min(burst, first + count - i) }, (_, k) => i + k);
    const results = await Promise.all(
      batch.map(async (n) => {
        const data = `${channel}#${n}`;
        const { offset } = await rotate(nodes, n).publish(channel, data);
        return { offset, data };
      }),
    );
    out.push(...results);
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** [offset, data] pairs, the shape every delivery assertion compares. */
export const delivered = (pubs: readonly Publication[], channel?: string): Array<[number, unknown]> =>
  pubs.filter((p) => channel === undefined || p.channel === channel).map((p) => [p.offset, p.data]);

export const expected = (pubs: readonly Published[]): Array<[number, unknown]> => pubs.map((p) => [p.offset, p.data]);

/* ---------- The round-robin balancer, seen from a test ---------- */

const total = (hits: readonly number[]) => hits.reduce((a, b) => a + b, 0);

/** Requests each target received since `before` (a copy of `lb.hits`). */
export const hitsSince = (lb: Balancer, before: readonly number[]): number[] => lb.hits.map((h, i) => h - (before[i] ?? 0));

/**
 * Makes `target` the balancer's next pick. It picks per request, round-robin, and counts every pick
 * in `hits`, so the total of `hits` is its counter; requests that go nowhere useful (a 401) advance it.
 */
export async function steer(lb: Balancer, target: number): Promise<void> {
  while (total(lb.hits) % lb.hits.length !== target) {
    const res = await fetch(`${lb.url}/api/info`);
    await res.arrayBuffer();
  }
}

/* ---------- A raw SSE stream that knows which node serves it ---------- */

export interface SseStream extends RawSession {
  /** The node named by the stream's `connected` event. */
  readonly node: string;
  /** The id of the last event, as EventSource would send it back in Last-Event-ID. */
  readonly lastEventId: string;
  readonly disconnectEvents: Array<{ code: number; name: string; reconnect: boolean }>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
}

/**
 * GET /sse over its own TCP connection (no keep-alive pool), so close() really closes the socket and
 * a node's shutdown never waits for it. Resolves once every channel has its subscribed event.
 */
export async function openSseStream(baseUrl: string, channels: string[], { lastEventId }: { lastEventId?: string } = {}): Promise<SseStream> {
  const results: SubscribeResult[] = [];
  const publications: Publication[] = [];
  const disconnects: number[] = [];
  const disconnectEvents: SseStream['disconnectEvents'] = [];
  const positions = new Map<string, StreamPosition>();
  let node = '';
  const parser = new SseParser({
    onEvent: (ev) => {
      const data: unknown = JSON.parse(ev.data);
      if (ev.type === 'connected') node = SseConnectedEvent.parse(data).node;
      else if (ev.type === 'subscribed') {
        const r = SubscribeResultSchema.parse(data);
        results.push(r);
        positions.set(r.channel, { epoch: r.epoch, offset: r.offset });
      } else if (ev.type === 'publication') {
        const p = PublicationSchema.parse(data);
        publications.push(p);
        positions.set(p.channel, { epoch: p.epoch, offset: p.offset });
      } else if (ev.type === 'disconnect') {
        const d = data as { code: number; name: string; reconnect: boolean };
        disconnects.push(d.code);
        disconnectEvents.push(d);
      }
    },
  });
  const params = new URLSearchParams({ channels: channels.join(',') });
  const req = http.get(`${baseUrl}/sse?${params}`, {
    agent: false,
    headers: { accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
  });
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => req.once('response', resolve).once('error', reject));
  if (res.statusCode !== 200) throw new Error(`sse on ${baseUrl}: ${res.statusCode}`);
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => parser.feed(chunk));
  const ended = new Promise<void>((resolve) => res.once('close', () => resolve()));
  await vi.waitFor(() => {
    if (!node || results.length < channels.length) throw new Error(`waiting for the subscribed events of ${channels}`);
  }, WAIT);
  return {
    node,
    results,
    publications,
    disconnects,
    disconnectEvents,
    ended,
    get lastEventId() {
      return parser.lastEventId;
    },
    position: (c) => positions.get(c),
    async close() {
      req.destroy();
      await ended;
    },
  };
}

/* ---------- The client library in Node ---------- */

export interface LibClient {
  readonly hub: Hubbub;
  /** Publications delivered to the app, per channel, in delivery order. */
  readonly received: Map<string, Publication[]>;
  /** Subscription state events, with their channel, in order. */
  readonly states: Array<SubscriptionStateEvent & { channel: string }>;
  /** Every `connected` event: the node is known on WebSocket and SSE (their `connected` frame or event names it), not on poll. */
  readonly connections: Array<{ transport: TransportName; node: string | undefined }>;
  subscribe(channel: string): void;
  /** `subscribed` states of a channel so far (1 after the first subscribe, +1 per resubscribe). */
  subscribedCount(channel: string): number;
  close(): void;
}

/** A `Hubbub` forced onto one transport, with `ws` for WebSocket and fast reconnects. */
export function libClient(url: string, transport: TransportName, channels: string[] = []): LibClient {
  const hub = new Hubbub(url, { transports: [transport], WebSocket, minReconnectDelay: 50, maxReconnectDelay: 300, pollTimeout: 5_000 });
  const received = new Map<string, Publication[]>();
  const states: LibClient['states'] = [];
  const connections: LibClient['connections'] = [];
  hub.on('connected', (info) => connections.push({ transport: info.transport, node: info.node }));
  const client: LibClient = {
    hub,
    received,
    states,
    connections,
    subscribe(channel) {
      received.set(channel, []);
      hub.subscribe(channel, {
        onPublication: (p) => received.get(channel)!.push(p),
        onState: (s) => states.push({ ...s, channel }),
      });
    },
    subscribedCount: (channel) => states.filter((s) => s.channel === channel && s.state === 'subscribed').length,
    close: () => hub.close(),
  };
  for (const c of channels) client.subscribe(c);
  return client;
}

/** Resolves once `client` is subscribed to `channel` `times` times in all. */
export async function untilSubscribed(client: LibClient, channel: string, times = 1): Promise<void> {
  await vi.waitFor(() => {
    if (client.subscribedCount(channel) < times) throw new Error(`waiting for subscription ${times} to ${channel}`);
  }, WAIT);
}

/** `recovered` of every subscribed state of `channel`, in order. */
export const recoveries = (client: LibClient, channel: string): boolean[] =>
  client.states.flatMap((s) => (s.channel === channel && s.state === 'subscribed' ? [s.recovered] : []));
