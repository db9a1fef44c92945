import { expect, test } from './fixtures.js';

test('the demo page loads and shows the transport in use and the connection state', async ({ page, hubbub }) => {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('request', (req) => {
    if (!req.url().startsWith(hubbub.url) && !req.url().startsWith(hubbub.url.replace('http', 'ws'))) problems.push(req.url());
  });
  await page.goto('/');
  await expect(page.getByTestId('state')).toHaveText('connected');
  await expect(page.getByTestId('transport')).toHaveText('websocket');
  await expect(page.getByTestId('chat-messages')).toBeVisible();
  await expect(page.getByTestId('notifications')).toBeVisible();
  await expect(page.getByTestId('publish-form')).toBeVisible();
  expect(problems, 'no script error, no request to another origin').toEqual([]);
});

for (const [order, expected] of [['sse,poll', 'sse'], ['poll', 'poll']] as const) {
  test(`?transports=${order} forces the transport order`, async ({ page }) => {
    await page.goto(`/?transports=${order}`);
    await expect(page.getByTestId('state')).toHaveText('connected');
    await expect(page.getByTestId('transport')).toHaveText(expected);
  });
}

test('a publication reaches the notifications panel and the test hook', async ({ page, hubbub }) => {
  await page.goto('/');
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { hubbubDemo: { states: unknown[] } }).hubbubDemo.states.length))
    .toBe(2);
  await hubbub.publish('notifications:demo', { title: 'Deploy finished', body: 'v1.2.3 is live' });
  await expect(page.getByTestId('notifications')).toContainText('Deploy finished');
  const received = await page.evaluate(() => (window as unknown as { hubbubDemo: { received: unknown[] } }).hubbubDemo.received);
  expect(received).toEqual([{ channel: 'notifications:demo', data: { title: 'Deploy finished', body: 'v1.2.3 is live' }, offset: 1 }]);
});

test('the chat sends through the REST API with the key entered once', async ({ page, hubbub }) => {
  await page.goto('/');
  await expect(page.getByTestId('state')).toHaveText('connected');
  await page.locator('#chat-name').fill('ada');
  await page.locator('#chat-text').fill('hello without a key');
  await page.locator('#chat-form button').click();
  await expect(page.locator('#chat-hint')).toContainText('API key');

  await page.locator('#publish-key').fill(hubbub.apiKey);
  await page.getByTestId('publish-form').locator('button[type=submit]').click();
  await expect(page.getByTestId('publish-result')).toContainText('200 OK');
  await page.locator('#chat-text').fill('hello with a key');
  await page.locator('#chat-form button').click();
  await expect(page.getByTestId('chat-messages')).toContainText('hello with a key');
  await expect(page.locator('#chat-text')).toHaveValue('');

  // The key stays in this browser: after a reload the recent chat is read from history.
  await page.reload();
  await expect(page.getByTestId('chat-messages')).toContainText('hello with a key');
});
