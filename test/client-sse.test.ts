import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openWithHeaders } from '../client/node-event-source.js';
import { SseParser, type SseEvent } from './support/sse-parser.js';

function parse(chunks: string[]) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = new SseParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onRetry: (ms) => retries.push(ms) });
  for (const c of chunks) parser.feed(c);
  return { events, comments, retries, parser };
}

const STREAM =
  '\uFEFF: hello\n\n' +
  'retry: 1500\n' +
  'id: e1:1\nevent: publication\ndata: {"a":1}\n\n' +
  'event: subscribed\r\ndata: line one\r\ndata: line two\r\n\r\n' +
  ': keep-alive\r\r' +
  'data:no space\rid: e1:2\r\r' +
  'event: empty\n\n' +
  'data\n\n';

const EXPECTED: SseEvent[] = [
  { type: 'publication', data: '{"a":1}', lastEventId: 'e1:1' },
  { type: 'subscribed', data: 'line one\nline two', lastEventId: 'e1:1' },
  { type: 'message', data: 'no space', lastEventId: 'e1:2' },
  // `data` with no colon is a data field with an empty value: an event with empty data.
  { type: 'message', data: '', lastEventId: 'e1:2' },
];

describe('SseParser', () => {
  it('parses events, comments, ids, retry and all three line endings', () => {
    const r = parse([STREAM]);
    expect(r.events).toEqual(EXPECTED);
    expect(r.comments).toEqual(['hello', 'keep-alive']);
    expect(r.retries).toEqual([1500]);
    expect(r.parser.lastEventId).toBe('e1:2');
  });

  it('gives the same events however the stream is split into chunks', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(parse([STREAM.slice(0, cut), STREAM.slice(cut)]).events, `cut at ${cut}`).toEqual(EXPECTED);
    }
    expect(parse([...STREAM]).events).toEqual(EXPECTED);
  });

  it('does not split a CRLF that straddles two chunks into two line ends', () => {
    const r = parse(['data: x\r', '\nid: 7\r', '\n\r', '\n']);
    expect(r.events).toEqual([{ type: 'message', data: 'x', lastEventId: '7' }]);
  });

  it('drops an event cut off by reset() and keeps the last event id for the next connection', () => {
    const r = parse(['id: 5\ndata: done\n\n', 'data: half']);
    r.parser.reset();
    r.parser.feed('data: next\n\n');
    expect(r.events.map((e) => [e.data, e.lastEventId])).toEqual([
      ['done', '5'],
      ['next', '5'],
    ]);
  });

  it('ignores an id containing NUL and a non-numeric retry', () => {
    const r = parse(['id: 1\n\nid: a\0b\nretry: 10s\ndata: x\n\n']);
    expect(r.events).toEqual([{ type: 'message', data: 'x', lastEventId: '1' }]);
    expect(r.retries).toEqual([]);
  });
});

/* ---------- SSE over fetch against a real HTTP server ---------- */

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function server(handler: Handler): Promise<{ url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const s = createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/sse`, requests };
}

describe('SSE in Node over the eventsource package (node-event-source.ts)', () => {
  const globalFetch: typeof fetch = (input, init) => fetch(input, init);

  it('sends the extra headers and delivers named events', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      // Split mid-event, to cross chunk boundaries over a real socket.
      res.write('id: e1:1\nevent: publication\nda');
      res.write('ta: one\n\n');
    });
    const es = openWithHeaders(s.url, { authorization: 'Bearer t1' }, globalFetch);
    closers.push(async () => es.close());
    const data: string[] = [];
    es.addEventListener('publication', (e) => data.push(e.data));
    await vi.waitFor(() => expect(data).toEqual(['one']));
    expect(s.requests[0]!.headers.authorization).toBe('Bearer t1');
    expect(s.requests[0]!.headers.accept).toBe('text/event-stream');
  });

  it('passes the status, error body and Retry-After of a refusal on, which a native EventSource hides', async () => {
    const s = await server((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end('{"code":"rate_limited","message":"slow down","retryable":true}');
    });
    const es = openWithHeaders(s.url, {}, globalFetch);
    closers.push(async () => es.close());
    const failed = new Promise<{ status?: number; body?: string; retryAfter?: string }>((resolve) => (es.onerror = resolve));
    const ev = await failed;
    expect(ev.status).toBe(429);
    expect(ev.retryAfter).toBe('3');
    expect(JSON.parse(ev.body!)).toMatchObject({ code: 'rate_limited' });
    expect(es.readyState).toBe(2);
    expect(s.requests).toHaveLength(1);
  });

  it('stays closed after close(): no reconnect, no more events', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    });
    const es = openWithHeaders(s.url, {}, globalFetch);
    const got: string[] = [];
    es.addEventListener('message', (e) => {
      got.push(e.data);
      es.close();
    });
    await vi.waitFor(() => expect(got).toEqual(['first']));
    expect(es.readyState).toBe(2);
    expect(s.requests).toHaveLength(1);
  });
});
