import { describe, expect, it } from 'vitest';
import { emptyEpoch, emptyEpochTime } from '../contract/index.js';
import { pollOnce } from './support/raw-clients.js';
import { startServer } from './support/server.js';

// Pollers woken by one publication, or one behind and catching up on it, get the same response body,
// built once (server/transports/poll.ts LastAnswer). Only the same answer may be shared: a poller
// that came from another position must still read its own in `subscriptions`.

describe('long-poll answers shared between pollers', () => {
  it('a publication that wakes pollers from different positions answers each with its own', async () => {
    await using srv = await startServer({ HUBBUB_POLL_TIMEOUT: '30' });
    // Two empty positions of one channel, seen at different times: both continue at its first publication.
    const first = await pollOnce(srv.url, ['s'], undefined);
    const seen = emptyEpochTime(first.subscriptions[0]!.epoch)!;
    const later = `${emptyEpoch(seen + 1)}:0`;
    const waiting = [pollOnce(srv.url, ['s'], first.cursor), pollOnce(srv.url, ['s'], later), pollOnce(srv.url, ['s'], first.cursor)];
    await expect.poll(() => srv.app.hub.subscriptionCount).toBe(3);
    const pub = await srv.publish('s', 'one');
    const [a, b, c] = await Promise.all(waiting);
    for (const r of [a!, b!, c!]) {
      expect(r.publications.map((p) => p.data)).toEqual(['one']);
      expect(r.cursor).toBe(`${pub.epoch}:1`);
    }
    expect(a!.subscriptions).toEqual([{ channel: 's', epoch: first.subscriptions[0]!.epoch, offset: 0, recovered: true }]);
    expect(b!.subscriptions).toEqual([{ channel: 's', epoch: emptyEpoch(seen + 1), offset: 0, recovered: true }]);
    expect(c).toEqual(a);
  });

  it('pollers one behind share the answer, pollers further behind get theirs', async () => {
    await using srv = await startServer();
    const one = await srv.publish('t', 1);
    await srv.publish('t', 2);
    await srv.publish('t', 3);
    // The hub follows the channel from the first poll on: publish again so its window holds them.
    const start = await pollOnce(srv.url, ['t'], undefined);
    await srv.publish('t', 4);
    await srv.publish('t', 5);
    const behindOne = [await pollOnce(srv.url, ['t'], `${one.epoch}:4`), await pollOnce(srv.url, ['t'], `${one.epoch}:4`)];
    const behindTwo = await pollOnce(srv.url, ['t'], start.cursor);
    expect(behindOne[0]).toEqual(behindOne[1]);
    expect(behindOne[0]!.publications.map((p) => p.data)).toEqual([5]);
    expect(behindTwo.publications.map((p) => p.data)).toEqual([4, 5]);
    expect(behindTwo.subscriptions[0]!.offset).toBe(3);
  });
});
