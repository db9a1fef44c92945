import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FetchEventSource, SseParser, type SseEvent, type Timers } from '../client/index.js';

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

/* ---------- FetchEventSource against a real HTTP server ---------- */

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

/** Runs the reconnect timer on the next microtask, so tests do not wait the retry time. */
const immediate: Timers = {
  setTimeout: (fn) => (queueMicrotask(fn), 0),
  clearTimeout: () => undefined,
};

describe('FetchEventSource', () => {
  it('reconnects when the stream ends and sends Last-Event-ID, so the server resumes', async () => {
    const s = await server((req, res, n) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      // Split mid-event, to cross chunk boundaries over a real socket too.
      if (n === 1) {
        res.write('id: e1:1\nevent: publication\nda');
        res.end('ta: one\n\nid: e1:2\nevent: publication\ndata: two\n\n');
      } else {
        res.write('event: publication\ndata: three\n\n');
      }
    });
    const es = new FetchEventSource(s.url, { timers: immediate });
    closers.push(async () => es.close());
    const data: string[] = [];
    let opens = 0;
    let errors = 0;
    es.onopen = () => void opens++;
    es.onerror = () => void errors++;
    es.addEventListener('publication', (e) => data.push(e.data));
    await vi.waitFor(() => expect(data).toEqual(['one', 'two', 'three']));
    expect(s.requests[0]!.headers['last-event-id']).toBeUndefined();
    expect(s.requests[1]!.headers['last-event-id']).toBe('e1:2');
    expect(s.requests[1]!.headers.accept).toBe('text/event-stream');
    expect([opens, errors]).toEqual([2, 1]);
    expect(es.readyState).toBe(FetchEventSource.OPEN);
  });

  it('fails for good on an HTTP error and passes the error body on', async () => {
    const s = await server((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"code":"invalid_cursor","message":"bad","retryable":false}');
    });
    const es = new FetchEventSource(s.url, { timers: immediate });
    const failed = new Promise<{ status?: number; body?: string }>((resolve) => (es.onerror = resolve));
    const ev = await failed;
    expect(ev.status).toBe(400);
    expect(JSON.parse(ev.body!)).toMatchObject({ code: 'invalid_cursor' });
    expect(es.readyState).toBe(FetchEventSource.CLOSED);
    expect(s.requests).toHaveLength(1);
  });

  it('stays closed after close(): no reconnect, no more events', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    });
    const es = new FetchEventSource(s.url, { timers: immediate });
    const got: string[] = [];
    es.onmessage = (e) => {
      got.push(e.data);
      es.close();
    };
    await vi.waitFor(() => expect(got).toEqual(['first']));
    expect(es.readyState).toBe(FetchEventSource.CLOSED);
    expect(s.requests).toHaveLength(1);
  });
});
