import { createServer } from 'node:net';
import type { Page } from '@playwright/test';
import type { JsonData } from '../contract/index.js';
import { demoState, expect, joinDemo, subscribedToBoth, test } from './fixtures.js';

/**
 * What the product promises a browser: a publication made with one REST call reaches the page on
 * whichever transport the client could get, and a server restart loses nothing. Every case runs the
 * real demo page against its own server (e2e/fixtures.ts), signs in, and reads the page's test hook.
 */

const CHAT = 'chat:lobby';
const TRANSPORTS = ['websocket', 'sse', 'poll'] as const;
/** The signed-in user's notifications channel (a user channel). */
const notificationsOf = (user: string) => `notifications:#${user}`;

interface Received {
  channel: string;
  data: unknown;
  offset: number;
  tags?: Record<string, string>;
}

/** What the page received on the user's notifications channel. */
async function notifications(page: Page): Promise<Received[]> {
  const { user, received } = await demoState(page);
  return received.filter((r) => r.channel === notificationsOf(user));
}

/** Scripts run before the page's own, to take browser APIs away as an old or locked-down browser would. */
const WITHOUT_WEBSOCKET = () => {
  delete (window as { WebSocket?: unknown }).WebSocket;
};
const WITHOUT_EVENTSOURCE = () => {
  delete (window as { EventSource?: unknown }).EventSource;
};

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test('a curl-style publish reaches the demo over WebSocket', async ({ page, hubbub }) => {
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const user = await joinDemo(page, 'Ada');
  await expect(page.getByTestId('state')).toHaveText('connected');
  await expect(page.getByTestId('transport')).toHaveText('websocket');
  await subscribedToBoth(page);

  // Exactly what the README's curl command sends: a JSON body and the bearer key.
  const data = { title: 'Backup done', body: '42 GB in 3 min' };
  const res = await fetch(`${hubbub.url}/api/publish`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${hubbub.apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel: notificationsOf(user), data }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ channel: notificationsOf(user), epoch: expect.any(String), offset: 1 });

  await expect(page.getByTestId('notifications')).toContainText('Backup done');
  await expect(page.getByTestId('notifications')).toContainText('42 GB in 3 min');
  expect(await notifications(page)).toEqual([{ channel: notificationsOf(user), data, offset: 1 }]);
  expect(sockets).toEqual([`${hubbub.url.replace('http', 'ws')}/ws`]);
});

test('without WebSocket the client falls back to SSE and receives', async ({ page, hubbub }) => {
  await page.addInitScript(WITHOUT_WEBSOCKET);
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const user = await joinDemo(page, 'Ada');
  expect(await page.evaluate(() => typeof (window as { WebSocket?: unknown }).WebSocket)).toBe('undefined');
  await expect(page.getByTestId('state')).toHaveText('connected');
  await expect(page.getByTestId('transport')).toHaveText('sse');
  await subscribedToBoth(page);

  await hubbub.publish(notificationsOf(user), { title: 'over SSE' });
  await expect(page.getByTestId('notifications')).toContainText('over SSE');
  expect(await notifications(page)).toEqual([{ channel: notificationsOf(user), data: { title: 'over SSE' }, offset: 1 }]);
  expect(sockets).toEqual([]);
});

test('without WebSocket and EventSource the client falls back to long-poll and receives', async ({ page, hubbub }) => {
  // The browser bundle carries no EventSource of its own (it would cost the budget of
  // test/client-bundle-size.test.ts for browsers that all have one): no EventSource, no SSE.
  test.setTimeout(60_000);
  await page.addInitScript(WITHOUT_WEBSOCKET);
  await page.addInitScript(WITHOUT_EVENTSOURCE);
  const streams: string[] = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/sse') streams.push(req.resourceType());
  });
  const user = await joinDemo(page, 'Ada');
  await expect(page.getByTestId('state')).toHaveText('connected', { timeout: 30_000 });
  await expect(page.getByTestId('transport')).toHaveText('poll');
  await subscribedToBoth(page);

  await hubbub.publish(notificationsOf(user), { title: 'over long-poll' });
  await expect(page.getByTestId('notifications')).toContainText('over long-poll');
  expect(await notifications(page)).toEqual([{ channel: notificationsOf(user), data: { title: 'over long-poll' }, offset: 1 }]);
  expect(streams, 'no SSE stream without EventSource').toEqual([]);
});

/** A WebSocket class exists but cannot connect: a proxy that refuses upgrades, a blocked port, a CSP. */
const BROKEN_WEBSOCKETS = [
  {
    name: 'connects to a closed port',
    script: (port: number) => {
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(_url: string | URL, protocols?: string | string[]) {
          super(`ws://127.0.0.1:${port}/ws`, protocols);
        }
      };
    },
    attempts: (port: number) => [`ws://127.0.0.1:${port}/ws`],
  },
  {
    name: 'throws on construct',
    script: () => {
      window.WebSocket = class {
        constructor() {
          throw new DOMException('blocked by policy', 'SecurityError');
        }
      } as unknown as typeof WebSocket;
    },
    attempts: () => [],
  },
];

for (const { name, script, attempts } of BROKEN_WEBSOCKETS) {
  test(`a WebSocket that ${name} makes the client fall back to SSE`, async ({ page, hubbub }) => {
    const port = await closedPort();
    await page.addInitScript(script, port);
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const user = await joinDemo(page, 'Ada');
    await expect(page.getByTestId('state')).toHaveText('connected');
    await expect(page.getByTestId('transport')).toHaveText('sse');
    await subscribedToBoth(page);
    expect(sockets, 'the WebSocket was tried first').toEqual(attempts(port));

    await hubbub.publish(notificationsOf(user), { title: 'after the fallback' });
    await expect(page.getByTestId('notifications')).toContainText('after the fallback');
    expect(await notifications(page)).toEqual([{ channel: notificationsOf(user), data: { title: 'after the fallback' }, offset: 1 }]);
  });
}

for (const transport of TRANSPORTS) {
  test(`${transport}: a restart on the same port loses nothing and duplicates nothing`, async ({ page, hubbub }) => {
    // Reconnect backoff grows while the server is down (full jitter, ceiling doubling from 0.5 s).
    test.setTimeout(120_000);
    const slow = { timeout: 45_000 };
    const user = await joinDemo(page, 'Ada', `/?transports=${transport}`);
    const feed = notificationsOf(user);
    const expected: Received[] = [];
    let n = 0;
    /** One publication on each channel, through `via`, recorded in the order the page must see them. */
    const publishPair = async (via: (channel: string, data: JsonData) => Promise<{ offset: number }>) => {
      n += 1;
      for (const [channel, data] of [
        [feed, { title: `n${n}` }],
        [CHAT, { user: 'ada', text: `c${n}` }],
      ] as const) {
        const { offset } = await via(channel, data);
        expected.push({ channel, data, offset });
      }
    };
    const viaRest = (channel: string, data: JsonData) => hubbub.publish(channel, data);
    const viaHub = (channel: string, data: JsonData) => hubbub.app.hub.publish(channel, data);
    // The chat also carries the page's own joins and leaves (WebSocket and SSE): not the test's publications.
    const published = (list: Received[]) => list.filter((r) => r.tags?.['hubbub'] === undefined);
    const inOrderOf = (list: Received[]) => [feed, CHAT].map((c) => published(list).filter((r) => r.channel === c));
    const received = async () => (await demoState(page)).received;

    await expect(page.getByTestId('state')).toHaveText('connected');
    await expect(page.getByTestId('transport')).toHaveText(transport);
    await subscribedToBoth(page);
    const before = (await demoState(page)).states;
    expect(before.every((s) => !s.recovered), 'first subscribes start from now').toBe(true);

    for (let i = 0; i < 3; i++) await publishPair(viaRest);
    await expect.poll(async () => published(await received()).length).toBe(expected.length);

    // Counts the client's disconnects: the shutdown, then reconnect attempts that find no server.
    await page.evaluate(() => {
      const w = window as unknown as { disconnects: number; hubbubDemo: { hub: { on(e: string, f: () => void): void } } };
      w.disconnects = 0;
      w.hubbubDemo.hub.on('disconnected', () => (w.disconnects += 1));
    });
    const disconnects = () => page.evaluate(() => (window as unknown as { disconnects: number }).disconnects);
    const port = hubbub.app.port;
    const stopping = Date.now();
    await hubbub.app.stop();
    // Regression: a poll client retrying on a kept-alive socket held stop() until the 10 s deadline.
    expect(Date.now() - stopping, 'stop() does not wait for its shutdown deadline').toBeLessThan(5_000);
    await expect(page.getByTestId('state')).not.toHaveText('connected');
    // The REST API is down with the server; the hub and its history are not.
    for (let i = 0; i < 3; i++) await publishPair(viaHub);
    await expect.poll(disconnects, { message: 'a reconnect attempt failed while the server was down', ...slow }).toBeGreaterThanOrEqual(2);
    await hubbub.app.listen(port, '127.0.0.1');

    await expect(page.getByTestId('state')).toHaveText('connected', slow);
    await expect(page.getByTestId('transport')).toHaveText(transport);
    await expect.poll(async () => inOrderOf(await received()), slow).toEqual(inOrderOf(expected));

    for (let i = 0; i < 2; i++) await publishPair(viaRest);
    await expect.poll(async () => inOrderOf(await received()), slow).toEqual(inOrderOf(expected));

    const { received: all, states } = await demoState(page);
    // Every publication once, each channel in offset order (the channels themselves interleave
    // freely), joins and leaves included: no offset is skipped.
    expect(published(all)).toHaveLength(expected.length);
    for (const channel of [feed, CHAT]) {
      const offsets = all.filter((r) => r.channel === channel).map((r) => r.offset);
      expect(offsets, channel).toEqual(offsets.map((_, i) => i + 1));
    }
    const resumed = states.slice(before.length);
    for (const channel of [feed, CHAT]) {
      expect(resumed.filter((s) => s.channel === channel), `${channel} resubscribed`).not.toHaveLength(0);
    }
    expect(resumed.filter((s) => !s.recovered), 'every resubscription recovered').toEqual([]);
  });
}
