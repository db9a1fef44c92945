import { describe, expect, it } from 'vitest';
import { pollOnce } from './support/raw-clients.js';
import { startServer } from './support/server.js';

describe('long-poll transport', () => {
  it('answers a first poll without cursor at once with the current positions', async () => {
    await using srv = await startServer({ HUBBUB_POLL_TIMEOUT: '30' });
    const pub = await srv.publish('n', 'x');
    const r = await pollOnce(srv.url, ['n', 'm'], undefined);
    expect(r.publications).toEqual([]);
    expect(r.subscriptions[0]).toEqual({ channel: 'n', epoch: pub.epoch, offset: 1, recovered: false });
    expect(r.subscriptions[1]).toMatchObject({ channel: 'm', offset: 0, recovered: false });
    expect(r.cursor).toBe(`${pub.epoch}:1,${r.subscriptions[1]!.epoch}:0`);
  });

  it('answers at once when something is newer than the cursor', async () => {
    await using srv = await startServer({ HUBBUB_POLL_TIMEOUT: '30' });
    const first = await pollOnce(srv.url, ['n'], undefined);
    await srv.publish('n', 'a');
    await srv.publish('n', 'b');
    const r = await pollOnce(srv.url, ['n'], first.cursor);
    expect(r.publications.map((p) => p.data)).toEqual(['a', 'b']);
    expect(r.subscriptions[0]!.recovered).toBe(true);
    expect(r.cursor.endsWith(':2')).toBe(true);
  });

  it('waits for the next publication, then answers with it', async () => {
    await using srv = await startServer({ HUBBUB_POLL_TIMEOUT: '30' });
    const first = await pollOnce(srv.url, ['n'], undefined);
    const waiting = pollOnce(srv.url, ['n'], first.cursor);
    await expect.poll(() => srv.app.hub.subscriptionCount).toBe(1);
    await srv.publish('n', 'late');
    const r = await waiting;
    expect(r.publications.map((p) => p.data)).toEqual(['late']);
  });

  it('returns empty with the same cursor after the timeout', async () => {
    await using srv = await startServer();
    const first = await pollOnce(srv.url, ['quiet'], undefined);
    const r = await pollOnce(srv.url, ['quiet'], first.cursor, undefined, 50);
    expect(r.publications).toEqual([]);
    expect(r.cursor).toBe(first.cursor);
    expect(srv.app.hub.subscriptionCount).toBe(0);
  });

  it('loses nothing published between two polls', async () => {
    await using srv = await startServer();
    let cursor = (await pollOnce(srv.url, ['gap'], undefined)).cursor;
    const seen: unknown[] = [];
    for (let round = 0; round < 5; round++) {
      await srv.publish('gap', round * 2);
      await srv.publish('gap', round * 2 + 1);
      const r = await pollOnce(srv.url, ['gap'], cursor);
      seen.push(...r.publications.map((p) => p.data));
      cursor = r.cursor;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('answers waiting polls at once on shutdown, so clients move on without loss', async () => {
    await using srv = await startServer({ HUBBUB_POLL_TIMEOUT: '30' });
    const first = await pollOnce(srv.url, ['s'], undefined);
    const waiting = pollOnce(srv.url, ['s'], first.cursor);
    await expect.poll(() => srv.app.hub.subscriptionCount).toBe(1);
    await srv.app.stop();
    const r = await waiting;
    expect(r.cursor).toBe(first.cursor);
  });
});
