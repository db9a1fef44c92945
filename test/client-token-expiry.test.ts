// The client library (client/index.ts) with getToken against a real server whose tokens run out
// in the middle of a publication stream, one transport at a time: WebSocket refreshes in place,
// SSE is ended at exp (4004) and comes back with a fresh token from its cursor, long-poll is
// refused (401) and repeats its cursor with a fresh token. Every offset arrives once, in order.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub, type TransportName } from '../client/index.js';
import { collect } from './support/collect.js';
import type { ConfiguredServer } from './support/configured-server.js';
import { adaToken, expectEveryOffsetOnce, publishStream, startExpiryServer } from './support/expiry-stream.js';

let srv: ConfiguredServer;
beforeAll(async () => {
  srv = await startExpiryServer();
});
afterAll(() => srv?.close());

interface Run {
  hub: Hubbub;
  offsets(): number[];
  subscribedRecovered(): boolean[];
  disconnects: number[];
  errors: Error[];
}

function client(transport: TransportName, channel: string, options: ConstructorParameters<typeof Hubbub>[1]): Run {
  const hub = new Hubbub(srv.url, { transports: [transport], WebSocket, minReconnectDelay: 50, maxReconnectDelay: 300, ...options });
  const disconnects: number[] = [];
  const errors: Error[] = [];
  hub.on('disconnected', (info) => disconnects.push(info.code));
  hub.on('error', (err) => errors.push(err));
  const c = collect(hub, channel);
  return {
    hub,
    offsets: () => c.pubs.map((p) => p.offset),
    subscribedRecovered: () => c.subscribed().map((s) => s.recovered),
    disconnects,
    errors,
  };
}

async function untilSubscribed(run: Run): Promise<void> {
  await vi.waitFor(() => expect(run.subscribedRecovered()).toHaveLength(1), { timeout: 10_000, interval: 10 });
}

describe('token expiry mid-stream, client library', () => {
  it('websocket: refreshes the token with `refresh` before exp and keeps the one connection', async () => {
    const replies: Array<{ type?: unknown }> = [];
    /** Records the server's frames, to see the `refreshed` replies. */
    class RecordingWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        this.on('message', (data) => replies.push(JSON.parse(String(data)) as { type?: unknown }));
      }
    }
    let calls = 0;
    let firstExpires = 0;
    // Backdated: a 20 s lifetime whose last 3 s remain, so the client refreshes 2 s before exp.
    const getToken = async () => {
      const token = await adaToken(srv, 3, 17);
      if (++calls === 1) firstExpires = (Math.floor(Date.now() / 1000) + 3) * 1000;
      return token;
    };
    const run = client('websocket', 'feed:client-ws', { getToken, WebSocket: RecordingWebSocket });
    try {
      await untilSubscribed(run);
      const n = await publishStream(srv, 'feed:client-ws', () => Date.now() > firstExpires);
      await expectEveryOffsetOnce(run.offsets, n);
      expect(replies.filter((r) => r.type === 'refreshed').length).toBeGreaterThanOrEqual(1);
      expect([run.disconnects, run.errors, run.subscribedRecovered()]).toEqual([[], [], [false]]);
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      run.hub.close();
    }
  });

  it('sse: the server ends the stream at exp (4004); the client reconnects with a fresh token and resumes from its cursor', async () => {
    let calls = 0;
    const getToken = () => (calls++, adaToken(srv, 2));
    const run = client('sse', 'feed:client-sse', { getToken });
    try {
      await untilSubscribed(run);
      const n = await publishStream(srv, 'feed:client-sse', () => run.disconnects.length > 0);
      await expectEveryOffsetOnce(run.offsets, n);
      expect(run.disconnects.length).toBeGreaterThanOrEqual(1);
      expect(new Set(run.disconnects)).toEqual(new Set([4004]));
      expect(run.subscribedRecovered().slice(1)).toEqual(run.disconnects.map(() => true));
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      run.hub.close();
    }
  });

  it('poll: a request refused with 401 token_expired is repeated with a fresh token and the same cursor', async () => {
    const requests: Array<{ cursor: string | null; status: number; code?: unknown }> = [];
    let refused: () => void = () => undefined;
    const sawRefusal = new Promise<void>((resolve) => (refused = resolve));
    /** The client's fetch, recording every poll and its answer. */
    const recordingFetch = async (input: string, init?: RequestInit) => {
      const res = await fetch(input, init);
      const url = new URL(input);
      if (url.pathname !== '/poll') return res;
      const entry: (typeof requests)[number] = { cursor: url.searchParams.get('cursor'), status: res.status };
      if (res.status !== 200) entry.code = ((await res.clone().json()) as { code?: unknown }).code;
      requests.push(entry);
      if (res.status === 401) refused();
      return res;
    };
    let calls = 0;
    // The refresh ahead of exp is held until the server has refused the expired token, so the
    // client takes the 401 path (otherwise it would swap tokens in time and never see one).
    const getToken = async () => {
      if (++calls === 1) return adaToken(srv, 2);
      await sawRefusal;
      return adaToken(srv, 3600);
    };
    const run = client('poll', 'feed:client-poll', { getToken, fetch: recordingFetch, pollTimeout: 1000 });
    try {
      await untilSubscribed(run);
      const n = await publishStream(srv, 'feed:client-poll', () => requests.some((r) => r.status === 401));
      await expectEveryOffsetOnce(run.offsets, n);
      const i = requests.findIndex((r) => r.status === 401);
      expect(requests.filter((r) => r.status !== 200)).toEqual([{ cursor: requests[i]!.cursor, status: 401, code: 'token_expired' }]);
      expect(requests[i + 1]).toEqual({ cursor: requests[i]!.cursor, status: 200 });
    } finally {
      run.hub.close();
    }
  });
});
