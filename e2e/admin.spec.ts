import { type Page, test as base } from '@playwright/test';
import { type HubbubServer, demoState, expect, joinDemo, startHubbub } from './fixtures.js';

// The admin dashboard in a real browser: sign-in, the node list, publishing JSON and seeing it in
// the live tail (a private channel's too), and disconnecting a user connected from another page. With ADMIN_SCREENSHOTS=<dir>
// the walk-through also saves a screenshot of every page there (docs/admin.md describes them).

const PASSWORD = 'correct horse battery staple';

const test = base.extend<{ hubbub: HubbubServer }>({
  // The empty pattern is how Playwright declares a fixture without dependencies.
  hubbub: async ({}, use) => {
    const server = await startHubbub({ HUBBUB_ADMIN_PASSWORD: PASSWORD });
    try {
      await use(server);
    } finally {
      await server.close();
    }
  },
  baseURL: async ({ hubbub }, use) => {
    await use(hubbub.url);
  },
});

async function signIn(page: Page, path = '/admin'): Promise<void> {
  await page.goto(path);
  await page.getByTestId('login-secret').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('who')).toHaveText('password');
}

async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env['ADMIN_SCREENSHOTS'];
  if (dir) await page.screenshot({ path: `${dir}/admin-${name}.png`, fullPage: true });
}

test('a wrong password is refused and the dashboard stays hidden', async ({ page }) => {
  await page.goto('/admin');
  await page.getByTestId('login-secret').fill('not the password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-error')).toHaveText('Wrong password or key.');
  await expect(page.getByTestId('main')).toBeHidden();
  const cookies = await page.context().cookies();
  expect(cookies.filter((c) => c.name === 'hubbub_admin')).toEqual([]);
});

test('the node list shows this node, and a reload keeps the session', async ({ page, hubbub }) => {
  await signIn(page);
  await expect(page.getByTestId('node-id')).toHaveText([hubbub.config.nodeId]);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'hubbub_admin');
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
  await page.reload();
  await expect(page.getByTestId('node-id')).toHaveText([hubbub.config.nodeId]);
});

test('JSON published from the dashboard appears in the live tail and in history', async ({ page, hubbub }) => {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await signIn(page, '/admin#/channel/news');
  await expect(page.getByTestId('tail-state')).toHaveText('live');
  await page.getByTestId('publish-data').fill('{"hello": "from the dashboard", "n": 1}');
  await page.getByTestId('publish-submit').click();
  await expect(page.getByTestId('publish-result')).toHaveText('Published at offset 1.');
  await expect(page.getByTestId('tail-item')).toHaveCount(1);
  await expect(page.getByTestId('tail-item')).toContainText('"hello": "from the dashboard"');
  // A backend's publication reaches the tail too: it is a real subscription.
  await hubbub.publish('news', { from: 'backend' });
  await expect(page.getByTestId('tail-item').first()).toContainText('"from": "backend"');
  await expect(page.getByTestId('history-item')).toHaveCount(2);
  // Not JSON: refused in the page, nothing published.
  await page.getByTestId('publish-data').fill('{oops');
  await page.getByTestId('publish-submit').click();
  await expect(page.getByTestId('publish-result')).toContainText('Not JSON');
  expect(problems).toEqual([]);
});

test('the live tail watches a private user channel, unseen in its presence', async ({ page, hubbub }) => {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  // notifications:#ada is ada's own: an anonymous subscriber is refused, the tail's admin token is not.
  await signIn(page, '/admin#/channel/notifications:%23ada');
  await expect(page.getByTestId('tail-state')).toHaveText('live');
  await hubbub.publish('notifications:#ada', { note: 'for ada only' });
  await expect(page.getByTestId('tail-item')).toHaveCount(1);
  await expect(page.getByTestId('tail-item').first()).toContainText('"note": "for ada only"');
  // History and presence come from one refresh, taken after the tail went live: it is not listed.
  await expect(page.getByTestId('history-item')).toHaveCount(1);
  await expect(page.getByTestId('presence')).toContainText('Nobody is subscribed.');
  expect(problems).toEqual([]);
});

test('disconnecting a user closes its connection: it leaves presence and its page is disconnected', async ({ page, browser }) => {
  const other = await browser.newContext();
  try {
    const demo = await other.newPage();
    const user = await joinDemo(demo, 'Ada');
    await expect(demo.getByTestId('state')).toHaveText('connected');
    await signIn(page, '/admin#/channel/chat:lobby');
    const presence = page.getByTestId('presence');
    await expect(presence).toContainText(user);

    await page.getByTestId('nav-users').click();
    await page.getByTestId('disconnect-user').fill(user);
    await page.getByTestId('disconnect-submit').click();
    await expect(page.getByTestId('disconnect-result')).toHaveText(`Disconnected ${user}: 1 connection closed.`);
    await expect(demo.getByTestId('state')).toHaveText('closed');

    await page.goto('/admin#/channel/chat:lobby');
    await expect(page.getByTestId('presence')).toBeVisible();
    await expect(page.getByTestId('presence')).not.toContainText(user);
    expect((await demoState(demo)).user).toBe(user);
  } finally {
    await other.close();
  }
});

test('every page renders: nodes, channels, a channel, users, configuration (the walk-through)', async ({ page, browser, hubbub }) => {
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto('/admin');
  await expect(page.getByTestId('login-secret')).toBeVisible();
  await shot(page, '1-login');

  const other = await browser.newContext();
  try {
    const demo = await other.newPage();
    const user = await joinDemo(demo, 'Grace');
    await expect(demo.getByTestId('state')).toHaveText('connected');
    await hubbub.publish('chat:lobby', { text: 'hello from a backend' });

    await signIn(page);
    await expect(page.getByTestId('node-id')).toHaveText([hubbub.config.nodeId]);
    await shot(page, '2-nodes');

    await page.getByTestId('nav-channels').click();
    await expect(page.getByTestId('channels')).toContainText('chat:lobby');
    await shot(page, '3-channels');

    await page.getByRole('link', { name: 'chat:lobby' }).click();
    await expect(page.getByTestId('tail-state')).toHaveText('live');
    await page.getByTestId('publish-submit').click();
    await expect(page.getByTestId('tail-item')).toHaveCount(1);
    await expect(page.getByTestId('presence')).toContainText(user);
    await shot(page, '4-channel');

    await page.getByTestId('nav-users').click();
    await page.getByTestId('disconnect-user').fill(user);
    await page.getByTestId('disconnect-submit').click();
    await expect(page.getByTestId('disconnect-result')).toContainText('1 connection closed');
    await shot(page, '5-users');

    await page.getByTestId('nav-config').click();
    await expect(page.getByTestId('settings')).toContainText('adminPassword');
    await expect(page.getByTestId('settings')).not.toContainText(PASSWORD);
    await expect(page.getByTestId('settings')).not.toContainText(hubbub.apiKey);
    await shot(page, '6-config');
  } finally {
    await other.close();
  }
});
