import { vi } from 'vitest';
import WebSocket from 'ws';
import {
  type Publication,
  type StreamPosition,
  type SubscribeResult,
  formatCursor,
  PollResponse,
  Publication as PublicationSchema,
  ServerFrame,
  SubscribeResult as SubscribeResultSchema,
} from '../../contract/index.js';
import { readSse } from './sse-reader.js';

/** Generous: CI machines have two cores and the suites start real servers. */
const SUBSCRIBE_WAIT = { timeout: 10_000 };

export type TransportName = 'websocket' | 'sse' | 'poll';
export const TRANSPORT_NAMES: TransportName[] = ['websocket', 'sse', 'poll'];

/**
 * One subscriber speaking the raw protocol of one transport, so the behaviour suite checks
 * the wire itself, not the client library. Every frame is validated against the contract.
 */
export interface RawSession {
  readonly results: SubscribeResult[];
  readonly publications: Publication[];
  /** Disconnect codes received (WebSocket close code or SSE disconnect event). */
  readonly disconnects: number[];
  /** Position of the last publication or subscribe result per channel. */
  position(channel: string): StreamPosition | undefined;
  close(): Promise<void>;
}

export async function openSession(
  transport: TransportName,
  baseUrl: string,
  channels: string[],
  since: Array<StreamPosition | undefined> = [],
): Promise<RawSession> {
  const results: SubscribeResult[] = [];
  const publications: Publication[] = [];
  const disconnects: number[] = [];
  const positions = new Map<string, StreamPosition>();
  const onResult = (r: SubscribeResult) => {
    results.push(SubscribeResultSchema.parse(r));
    positions.set(r.channel, { epoch: r.epoch, offset: r.offset });
  };
  const onPub = (p: Publication) => {
    publications.push(PublicationSchema.parse(p));
    positions.set(p.channel, { epoch: p.epoch, offset: p.offset });
  };
  const base = { results, publications, disconnects, position: (c: string) => positions.get(c) };
  const cursor = since.length > 0 ? formatCursor(channels.map((_, i) => since[i])) : undefined;

  if (transport === 'websocket') {
    const ws = new WebSocket(baseUrl.replace('http', 'ws') + '/ws');
    ws.on('message', (raw) => {
      const frame = ServerFrame.parse(JSON.parse(raw.toString()));
      if (frame.type === 'subscribed') onResult({ channel: frame.channel, epoch: frame.epoch, offset: frame.offset, recovered: frame.recovered });
      else if (frame.type === 'publication') {
        const { type: _type, ...pub } = frame;
        onPub(pub);
      }
    });
    ws.on('close', (code) => disconnects.push(code));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    channels.forEach((channel, i) => ws.send(JSON.stringify({ id: i + 1, type: 'subscribe', channel, ...(since[i] ? { since: since[i] } : {}) })));
    await vi.waitFor(() => {
      if (results.length < channels.length) throw new Error('waiting for subscribed replies');
    }, SUBSCRIBE_WAIT);
    return {
      ...base,
      async close() {
        if (ws.readyState === WebSocket.CLOSED) return;
        ws.close();
        await new Promise((r) => ws.once('close', r));
      },
    };
  }

  const params = new URLSearchParams({ channels: channels.join(',') });
  if (cursor !== undefined) params.set('cursor', cursor);

  if (transport === 'sse') {
    const abort = new AbortController();
    const res = await fetch(`${baseUrl}/sse?${params}`, { signal: abort.signal });
    if (res.status !== 200) throw new Error(`sse: ${res.status} ${await res.text()}`);
    const pump = (async () => {
      try {
        for await (const ev of readSse(res.body!)) {
          if (ev.event === 'subscribed') onResult(JSON.parse(ev.data));
          else if (ev.event === 'publication') onPub(JSON.parse(ev.data));
          else if (ev.event === 'disconnect') disconnects.push((JSON.parse(ev.data) as { code: number }).code);
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    })();
    await vi.waitFor(() => {
      if (results.length < channels.length) throw new Error('waiting for subscribed events');
    }, SUBSCRIBE_WAIT);
    return {
      ...base,
      async close() {
        abort.abort();
        await pump;
      },
    };
  }

  // Long-poll: a loop of stateless requests carrying the cursor.
  let stopped = false;
  let current = cursor;
  const abort = new AbortController();
  const first = await pollOnce(baseUrl, channels, current, abort.signal);
  first.subscriptions.forEach(onResult);
  first.publications.forEach(onPub);
  current = first.cursor;
  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await pollOnce(baseUrl, channels, current, abort.signal);
        for (const s of r.subscriptions) if (!s.recovered) onResult(s);
        r.publications.forEach(onPub);
        current = r.cursor;
      } catch (err) {
        if (stopped) return;
        throw err;
      }
    }
  })();
  return {
    ...base,
    async close() {
      stopped = true;
      abort.abort();
      await loop;
    },
  };
}

export async function pollOnce(baseUrl: string, channels: string[], cursor: string | undefined, signal?: AbortSignal, timeout?: number) {
  const params = new URLSearchParams({ channels: channels.join(',') });
  if (cursor !== undefined) params.set('cursor', cursor);
  if (timeout !== undefined) params.set('timeout', String(timeout));
  const res = await fetch(`${baseUrl}/poll?${params}`, signal ? { signal } : {});
  if (res.status !== 200) throw new Error(`poll: ${res.status} ${await res.text()}`);
  return PollResponse.parse(await res.json());
}
