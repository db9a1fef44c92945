import { api } from '../contract/api.js';
import { expect, test } from './fixtures.js';

const summaries = Object.values(api).map((route) => route.summary as string);

test('GET /docs renders every operation of the contract with Swagger UI served locally', async ({ page, hubbub }) => {
  const foreign: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(hubbub.url)) foreign.push(req.url());
  });
  await page.goto('/docs');
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Hubbub');
  for (const summary of summaries) {
    await expect(page.locator('.opblock-summary-description', { hasText: summary }), summary).toHaveCount(1);
  }
  await expect(page.locator('.opblock-summary-path[data-path="/api/publish"]')).toBeVisible();
  // The Authorize button comes from the bearer security scheme.
  await expect(page.locator('.btn.authorize')).toBeVisible();
  expect(foreign, 'no request may leave the server (no CDN)').toEqual([]);
});

test('GET /openapi.json is the generated document', async ({ request }) => {
  const res = await request.get('/openapi.json');
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('application/json');
  const doc = (await res.json()) as { info: { title: string }; paths: Record<string, unknown> };
  expect(doc.info.title).toBe('Hubbub');
  expect(Object.keys(doc.paths)).toContain('/api/publish');
});

test('swagger-ui-dist serves only its allow-list, and paths cannot escape it', async ({ request }) => {
  expect((await request.get('/docs/assets/swagger-ui-bundle.js')).status()).toBe(200);
  for (const path of ['/docs/assets/package.json', '/docs/assets/..%2f..%2fpackage.json', '/docs/assets/../../package.json', '/..%2fpackage.json']) {
    expect((await request.get(path)).status(), path).toBe(404);
  }
});

test('GET /docs shows the endpoints first and the code tables after them, without a failed request', async ({ page, request }) => {
  const failures: string[] = [];
  page.on('response', (res) => {
    if (res.status() >= 400) failures.push(`${res.status()} ${res.url()}`);
  });
  page.on('requestfailed', (req) => failures.push(`failed ${req.url()}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') failures.push(`console: ${msg.text()}`);
  });
  await page.goto('/docs');
  const firstOperation = page.locator('.opblock').first();
  const errorTable = page.locator('table', { has: page.locator('code', { hasText: /^bad_request$/ }) });
  await expect(firstOperation).toBeVisible();
  await expect(errorTable).toHaveCount(1);
  const operationTop = (await firstOperation.boundingBox())!.y;
  const tableTop = (await errorTable.boundingBox())!.y;
  expect(operationTop, 'the first operation is above the error table').toBeLessThan(tableTop);
  // The links of the rendered description lead to pages the server serves.
  for (const name of ['protocol guide', 'AsyncAPI document']) {
    const href = await page.locator('.info .description a', { hasText: name }).first().getAttribute('href');
    expect(href, name).toMatch(/^\//);
    expect((await request.get(href!)).status(), `${name}: ${href}`).toBe(200);
  }
  expect(failures).toEqual([]);
});

test('GET /asyncapi.json is the generated AsyncAPI document', async ({ request }) => {
  const res = await request.get('/asyncapi.json');
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('application/json');
  const doc = (await res.json()) as { asyncapi: string; channels: Record<string, { address: string }> };
  expect(doc.asyncapi).toBe('3.0.0');
  expect(Object.values(doc.channels).map((c) => c.address)).toEqual(['/ws', '/sse', '/poll']);
});
