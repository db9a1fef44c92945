import type { BrowserContext, Page } from '@playwright/test';
import { demoState, expect, joinDemo, startHubbub, subscribedToBoth, test } from './fixtures.js';

// The demo page: it signs in with a dev token under a display name, chats with client publishes
// stamped by the server, keeps a member list from join/leave events, and never holds the API key.

const CHAT = 'chat:lobby';

test('the demo asks for a name, signs in with a dev token and shows the transport and the state', async ({ page, hubbub }) => {
  const problems: string[] = [];
  const tokenRequests: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('request', (req) => {
    if (!req.url().startsWith(hubbub.url) && !req.url().startsWith(hubbub.url.replace('http', 'ws'))) problems.push(req.url());
    if (new URL(req.url()).pathname === '/dev/token') tokenRequests.push(req.postData() ?? '');
  });
  await page.goto('/');
  await expect(page.getByTestId('join')).toBeVisible();
  await expect(page.getByTestId('chat-messages')).toBeHidden();
  const user = await joinDemo(page, 'Ada Lovelace');
  expect(user).toMatch(/^ada-lovelace-[0-9a-f]{4}$/);
  await expect(page.getByTestId('state')).toHaveText('connected');
  await expect(page.getByTestId('transport')).toHaveText('websocket');
  await expect(page.getByTestId('join')).toBeHidden();
  await expect(page.getByTestId('chat-messages')).toBeVisible();
  await expect(page.getByTestId('notifications-channel')).toHaveText(`notifications:#${user}`);
  await expect(page.getByTestId('members').locator('li')).toHaveText(['Ada Lovelace']);
  expect(tokenRequests.map((body) => JSON.parse(body))).toEqual([{ user, info: { name: 'Ada Lovelace' } }]);
  expect(problems, 'no script error, no request to another origin').toEqual([]);
});

for (const [order, expected] of [['sse,poll', 'sse'], ['poll', 'poll']] as const) {
  test(`?transports=${order} forces the transport order`, async ({ page }) => {
    await joinDemo(page, 'Ada', `/?transports=${order}`);
    await expect(page.getByTestId('state')).toHaveText('connected');
    await expect(page.getByTestId('transport')).toHaveText(expected);
  });
}

test('a publication to the user’s own notifications channel reaches the panel and the test hook', async ({ page, hubbub }) => {
  const user = await joinDemo(page, 'Ada');
  await subscribedToBoth(page);
  await hubbub.publish(`notifications:#${user}`, { title: 'Deploy finished', body: 'v1.2.3 is live' });
  await expect(page.getByTestId('notifications')).toContainText('Deploy finished');
  const received = (await demoState(page)).received.filter((r) => r.channel !== CHAT);
  expect(received).toEqual([{ channel: `notifications:#${user}`, data: { title: 'Deploy finished', body: 'v1.2.3 is live' }, offset: 1 }]);
});

test('a reload keeps the identity and its notifications channel', async ({ page, hubbub }) => {
  const user = await joinDemo(page, 'Ada');
  await subscribedToBoth(page);
  await page.reload();
  await expect(page.getByTestId('me')).toHaveText('Ada');
  await expect(page.getByTestId('state')).toHaveText('connected');
  expect((await demoState(page)).user).toBe(user);
  await subscribedToBoth(page);
  await hubbub.publish(`notifications:#${user}`, { title: 'after the reload' });
  await expect(page.getByTestId('notifications')).toContainText('after the reload');
});

test('a server that is not in development mode mints no token, and the page says why', async ({ page }) => {
  const server = await startHubbub({ HUBBUB_TOKEN_SECRET: 'a-production-secret-0123456789abcdef' });
  try {
    await page.goto(server.url);
    await page.getByTestId('join-name').fill('Ada');
    await page.getByTestId('join-name').press('Enter');
    await expect(page.getByTestId('join-hint')).toContainText('not in development mode');
    await expect(page.getByTestId('chat-messages')).toBeHidden();
    expect(await page.evaluate(() => (window as unknown as { hubbubDemo: { hub?: unknown } }).hubbubDemo.hub)).toBeUndefined();
  } finally {
    await server.close();
  }
});

/** Everything a page keeps or shows that could hold a secret: storage, cookies, the live HTML. */
async function pageSecrets(page: Page, context: BrowserContext): Promise<string> {
  const inPage = await page.evaluate(() => {
    const dump = (s: Storage) => Object.keys(s).map((k) => `${k}=${s.getItem(k)}`);
    return [...dump(localStorage), ...dump(sessionStorage), document.cookie, document.documentElement.outerHTML].join('\n');
  });
  const cookies = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('\n');
  return `${inPage}\n${cookies}`;
}

const messageFrom = (page: Page, text: string) => page.getByTestId('chat-messages').locator('li', { hasText: text }).locator('.who');

for (const transport of ['websocket', 'sse', 'poll'] as const) {
  test(`${transport}: two users chat through the demo, named by the server, and the page holds no API key`, async ({ browser, hubbub }) => {
    const contexts = [await browser.newContext({ baseURL: hubbub.url }), await browser.newContext({ baseURL: hubbub.url })];
    const [ada, grace] = await Promise.all(contexts.map((c) => c.newPage()));
    const traffic: string[] = [];
    for (const page of [ada!, grace!]) {
      page.on('request', (req) => traffic.push(`${req.url()}\n${JSON.stringify(req.headers())}\n${req.postData() ?? ''}`));
    }
    try {
      const path = `/?transports=${transport}`;
      await joinDemo(ada!, 'Ada', path);
      await expect(ada!.getByTestId('state')).toHaveText('connected');
      await subscribedToBoth(ada!);
      const graceUser = await joinDemo(grace!, 'Grace', path);
      await expect(grace!.getByTestId('state')).toHaveText('connected');
      await subscribedToBoth(grace!);

      // Long-poll requests are no lasting subscription: the server announces no join or leave for
      // them, so the member list only fills on the transports that have one.
      const announced = transport !== 'poll';
      if (announced) {
        for (const page of [ada!, grace!]) await expect(page.getByTestId('members').locator('li')).toHaveText(['Ada', 'Grace']);
        await expect(ada!.getByTestId('chat-messages')).toContainText('Grace joined');
      }

      await ada!.locator('#chat-text').fill('hello Grace');
      await ada!.locator('#chat-text').press('Enter');
      await expect(messageFrom(grace!, 'hello Grace')).toHaveText('Ada');
      await expect(messageFrom(ada!, 'hello Grace')).toHaveText('Ada');
      await expect(ada!.locator('#chat-text')).toHaveValue('');
      await grace!.locator('#chat-text').fill('hi Ada');
      await grace!.locator('#chat-text').press('Enter');
      await expect(messageFrom(ada!, 'hi Ada')).toHaveText('Grace');

      // A name in the data is not a name: the server's stamp says who published.
      await ada!.evaluate(
        ([channel, user]) =>
          (window as unknown as { hubbubDemo: { hub: { publish(c: string, d: unknown): Promise<unknown> } } }).hubbubDemo.hub.publish(channel, {
            text: 'this is Grace speaking',
            name: 'Grace',
            user,
          }),
        [CHAT, graceUser] as const,
      );
      await expect(messageFrom(grace!, 'this is Grace speaking')).toHaveText('Ada');

      for (const [i, page] of [ada!, grace!].entries()) {
        const secrets = await pageSecrets(page, contexts[i]!);
        expect(secrets).toContain('Ada'); // the dump is real: it holds the chat and the stored name
        expect(secrets, 'no API key in storage, cookies or HTML').not.toContain(hubbub.apiKey);
      }
      expect(traffic.filter((t) => t.includes(hubbub.apiKey)), 'no API key in any request').toEqual([]);

      if (announced) {
        await contexts[1]!.close();
        await expect(ada!.getByTestId('members').locator('li')).toHaveText(['Ada']);
        await expect(ada!.getByTestId('chat-messages')).toContainText('Grace left');
      }
    } finally {
      for (const c of contexts) await c.close();
    }
  });
}

test('the page refreshes its token through POST /dev/token before it expires, and hands the new one to the server', async ({ page, hubbub }) => {
  const minted: string[] = [];
  page.on('response', async (res) => {
    if (new URL(res.url()).pathname === '/dev/token') minted.push(((await res.json()) as { token: string }).token);
  });
  const sent: string[] = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  // The page's clock only: the server's stays real, so the refreshed token is valid there.
  await page.clock.install();
  const user = await joinDemo(page, 'Ada');
  await expect(page.getByTestId('state')).toHaveText('connected');
  await subscribedToBoth(page);
  expect(minted).toHaveLength(1);

  // Dev tokens live 10 minutes; the client refreshes a minute ahead.
  await page.clock.fastForward('09:05');
  await expect.poll(() => minted.length).toBe(2);
  await expect.poll(() => sent.some((frame) => frame.includes(minted[1]!))).toBe(true);
  await expect(page.getByTestId('state')).toHaveText('connected');
  await hubbub.publish(`notifications:#${user}`, { title: 'after the refresh' });
  await expect(page.getByTestId('notifications')).toContainText('after the refresh');
});
