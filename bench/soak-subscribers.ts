// Long-lived subscribers, one kind per transport, each checked for every publication in order. They
// never reconnect: a subscriber the server drops shows as a disconnect and the publications it missed.
// A slow one reads in bursts (paused socket), so the server's write buffers fill and drain.
import http from 'node:http';
import WebSocket from 'ws';
import type { Publication, ServerFrame, SubscribeResult } from '../contract/index.js';
import { StreamCheck } from './soak-check.js';
import { get, pollJson, readSseEvents, slowly } from './soak-wire.js';

export interface LongLived {
  readonly check: StreamCheck;
  /** The subscriber stopped on its own (dropped by the server or failed). */
  readonly dropped: boolean;
  /** Read at full speed from now on (slow readers), to catch up before the final check. */
  hurry(): void;
  close(): Promise<void>;
}

export interface Pace {
  pauseMs: number;
  readMs: number;
}

export type LongLivedKind = 'websocket' | 'sse' | 'poll';

async function wsLongLived(url: string, channels: string[], check: StreamCheck, pace?: Pace): Promise<LongLived> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  let closing = false;
  let dropped = false;
  let subscribed = 0;
  let ready: () => void;
  const allSubscribed = new Promise<void>((resolve) => (ready = resolve));
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as ServerFrame;
    if (frame.type === 'publication') check.publication(frame, Date.now());
    else if (frame.type === 'subscribed') {
      check.subscribed(frame);
      if (++subscribed === channels.length) ready();
    } else if (frame.type === 'error') check.disconnected(`error frame ${frame.code}`);
  });
  const closed = new Promise<void>((resolve) =>
    ws.once('close', (code) => {
      if (!closing) {
        dropped = true;
        check.disconnected(`close code ${code}`);
      }
      resolve();
    }),
  );
  ws.on('error', (err) => !closing && check.disconnected(`error ${err.message}`));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  channels.forEach((channel, i) => ws.send(JSON.stringify({ id: i + 1, type: 'subscribe', channel })));
  await allSubscribed;
  const slow = pace && slowly(() => ws.pause(), () => ws.resume(), pace.pauseMs, pace.readMs);
  return {
    check,
    get dropped() {
      return dropped;
    },
    hurry: () => slow?.stop(),
    async close() {
      closing = true;
      slow?.stop();
      ws.close();
      await closed;
    },
  };
}

async function sseLongLived(url: string, channels: string[], check: StreamCheck, pace?: Pace): Promise<LongLived> {
  const { req, response } = get(`${url}/sse?channels=${channels.join(',')}`);
  const res = await response;
  if (res.statusCode !== 200) throw new Error(`sse ${res.statusCode}`);
  let closing = false;
  let dropped = false;
  let subscribed = 0;
  let ready: () => void;
  const allSubscribed = new Promise<void>((resolve) => (ready = resolve));
  let ended: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  readSseEvents(
    res,
    (event, data) => {
      if (event === 'publication') check.publication(JSON.parse(data) as Publication, Date.now());
      else if (event === 'subscribed') {
        check.subscribed(JSON.parse(data) as SubscribeResult);
        if (++subscribed === channels.length) ready();
      } else if (event === 'disconnect') {
        dropped = true;
        check.disconnected(`disconnect event ${data}`);
      }
    },
    (err) => {
      // The end that follows a disconnect event is the same drop, not a second one.
      if (!closing && !dropped) {
        dropped = true;
        check.disconnected(`stream ended${err ? `: ${err.message}` : ''}`);
      }
      ended();
    },
  );
  await allSubscribed;
  const slow = pace && slowly(() => res.pause(), () => res.resume(), pace.pauseMs, pace.readMs);
  return {
    check,
    get dropped() {
      return dropped;
    },
    hurry: () => slow?.stop(),
    async close() {
      closing = true;
      slow?.stop();
      req.destroy();
      await closed;
    },
  };
}

/** A loop of long-polls carrying the cursor; a slow one waits `pauseMs` between polls. */
async function pollLongLived(url: string, channels: string[], check: StreamCheck, pace?: Pace): Promise<LongLived> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const base = `${url}/poll?channels=${channels.join(',')}`;
  let stopped = false;
  let dropped = false;
  let hurried = false;
  let current: http.ClientRequest | undefined;
  const first = await pollJson(base, agent);
  first.subscriptions.forEach((r) => check.subscribed(r));
  let cursor = first.cursor;
  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await pollJson(`${base}&cursor=${cursor}`, agent, (req) => (current = req));
        // Every response says where its publications start; each must continue the cursor.
        r.subscriptions.forEach((s) => check.subscribed(s));
        const now = Date.now();
        for (const p of r.publications) check.publication(p, now);
        cursor = r.cursor;
        if (pace && !hurried && !stopped) await new Promise((resolve) => setTimeout(resolve, pace.pauseMs));
      } catch (err) {
        if (stopped) return;
        dropped = true;
        check.disconnected(`poll failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
  })();
  return {
    check,
    get dropped() {
      return dropped;
    },
    hurry: () => void (hurried = true),
    async close() {
      stopped = true;
      current?.destroy();
      await loop;
      agent.destroy();
    },
  };
}

const OPEN = { websocket: wsLongLived, sse: sseLongLived, poll: pollLongLived } as const;

export function openLongLived(kind: LongLivedKind, url: string, channels: string[], name: string, pace?: Pace): Promise<LongLived> {
  return OPEN[kind](url, channels, new StreamCheck(name), pace);
}
