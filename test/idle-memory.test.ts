// What an idle connection keeps alive, checked on the live heap (issue #8, memory per idle
// connection). The inspector's Runtime.queryObjects collects garbage first and then lists every
// object with a given prototype, so "nothing holds X any more" is a count, not a timing.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawSession, openSession } from './support/raw-clients.js';
import { startServer } from './support/server.js';

const inspector = new Session();
beforeAll(() => inspector.connect());
afterAll(() => inspector.disconnect());

/** How many live objects with `prototype` satisfy `test` (a function's source, called with each object). */
async function liveCount(prototype: object, test: string): Promise<number> {
  const key = `__idleMemoryPrototype${Math.random().toString(36).slice(2)}`;
  (globalThis as Record<string, unknown>)[key] = prototype;
  try {
    const proto = await inspector.post('Runtime.evaluate', { expression: `globalThis.${key}` });
    // @types/node types this call's answer as void: it is Runtime.QueryObjectsReturnType.
    const found = (await inspector.post('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId!, objectGroup: 'idle-memory' })) as unknown as { objects: { objectId?: string } };
    const counted: { result: { value?: unknown } } = await inspector.post('Runtime.callFunctionOn', {
      objectId: found.objects.objectId!,
      functionDeclaration: `function () { const test = ${test}; return this.filter((o) => test(o)).length; }`,
      returnByValue: true,
    });
    return counted.result.value as number;
  } finally {
    delete (globalThis as Record<string, unknown>)[key];
    await inspector.post('Runtime.releaseObjectGroup', { objectGroup: 'idle-memory' });
  }
}

const IDLE = 5;

async function openIdle(transport: 'websocket' | 'sse', url: string, channel: string): Promise<RawSession[]> {
  const sessions: RawSession[] = [];
  for (let i = 0; i < IDLE; i++) sessions.push(await openSession(transport, url, [channel]));
  return sessions;
}

describe('an idle connection keeps only what it needs', () => {
  it('an idle WebSocket connection does not hold its upgrade request (regression: the upgrade closure kept req, ~1 KB, for the socket’s lifetime)', async () => {
    await using srv = await startServer();
    const sessions = await openIdle('websocket', srv.url, 'idle:ws-req');
    // Server-side upgrade requests only: the clients' own upgrade responses have no url.
    expect(await liveCount(IncomingMessage.prototype, `(r) => typeof r.url === 'string' && r.url.startsWith('/ws')`)).toBe(0);
    await Promise.all(sessions.map((s) => s.close()));
  });

  it('an idle WebSocket connection that has spoken does not hold its cleared connect timer (regression: the Timeout stayed on the connection)', async () => {
    await using srv = await startServer();
    const timers = Object.getPrototypeOf(setTimeout(() => undefined, 0)) as object;
    // clearTimeout() leaves nothing that tells whose timer it was: count cleared ones still alive.
    const cleared = `(t) => t._destroyed === true && t._idleTimeout === -1`;
    const before = await liveCount(timers, cleared);
    const sessions = await openIdle('websocket', srv.url, 'idle:ws-timer');
    // Others may have been collected since (the count can fall); the idle connections must add none.
    expect((await liveCount(timers, cleared)) - before).toBeLessThanOrEqual(0);
    await Promise.all(sessions.map((s) => s.close()));
  });

  it('an SSE stream keeps no copy of its response headers (regression: CORS headers set before writeHead made the response keep them all)', async () => {
    await using srv = await startServer();
    const sessions = await openIdle('sse', srv.url, 'idle:sse-headers');
    const streams = `(r) => typeof r.req?.url === 'string' && r.req.url.startsWith('/sse')`;
    expect(await liveCount(ServerResponse.prototype, streams)).toBe(IDLE);
    expect(await liveCount(ServerResponse.prototype, `(r) => (${streams})(r) && r.getHeaderNames().length > 0`)).toBe(0);
    await Promise.all(sessions.map((s) => s.close()));
  });
});
