// Servers that are not in dev mode (a token secret and a config file with namespaces and scoped
// API keys), and raw HTTP helpers for what fetch and `ws` hide: a refused WebSocket upgrade's
// status, headers and body, and an SSE stream read event by event.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { type TestServer, startServer } from './server.js';
import { type SseEvent, readSse } from './sse-reader.js';

export const TOKEN_SECRET = 'limits-test-token-secret-0123456789abcdef';

/** A server whose config file holds `yaml` (read once at start), verifying tokens with TOKEN_SECRET. */
export async function startWithConfig(yaml: string, env: Record<string, string> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-config-'));
  const file = join(dir, 'hubbub.yaml');
  writeFileSync(file, yaml);
  try {
    return await startServer({ HUBBUB_CONFIG: file, HUBBUB_TOKEN_SECRET: TOKEN_SECRET, ...env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface UpgradeAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The upgraded socket (status 101); the caller destroys it. */
  socket?: Duplex;
}

/** A WebSocket handshake on /ws with these extra headers; resolves with the server's answer. */
export function upgrade(baseUrl: string, headers: Record<string, string> = {}, path = '/ws'): Promise<UpgradeAnswer> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.once('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', socket }));
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The body of a refused request ('' when the stream started). */
  body: string;
  events: SseEvent[];
  /** The first event named `event` (already received or future). */
  next(event: string, pred?: (e: SseEvent) => boolean): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): Promise<void>;
}

/** GET /sse; a refused request resolves with its status, its body and no events. */
export async function openSse(baseUrl: string, query: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/sse?${query}`, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  let ended: Promise<void>;
  let body = '';
  if (res.status !== 200) {
    body = await res.text();
    ended = Promise.resolve();
  } else {
    ended = (async () => {
      try {
        for await (const ev of readSse(res.body!)) {
          events.push(ev);
          for (const w of waiters.splice(0)) w();
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    })();
  }
  return {
    status: res.status,
    headers: res.headers,
    body,
    events,
    ended,
    next(event, pred = () => true) {
      return new Promise((resolve) => {
        const check = () => {
          const hit = events.find((e) => e.event === event && pred(e));
          if (hit) resolve(hit);
          else waiters.push(check);
        };
        check();
      });
    },
    async close() {
      abort.abort();
      await ended;
    },
  };
}

/** The contract error body of a refused request. */
export function errorOf(text: string): { code: string; message: string } {
  return JSON.parse(text) as { code: string; message: string };
}
