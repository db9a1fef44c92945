import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.js';

// Event names in a real browser (issue #10): the client bundle the server serves, subscribed over
// each transport, hands `subscription.on('create', fn)` the `create` publications only, in order,
// while onPublication sees every one. Publications come from the REST API, as a backend sends them.

const TRANSPORTS = ['websocket', 'sse', 'poll'] as const;
const CHANNEL = 'chat:events';

interface Out {
  subscribed: boolean;
  all: Array<{ offset: number; event?: string }>;
  creates: Array<{ data: unknown; offset: number; event?: string }>;
}

/** Loads the client from the server into a page of its origin and subscribes; `window.out` records. */
async function subscribeInPage(page: Page, transport: (typeof TRANSPORTS)[number]): Promise<void> {
  await page.goto('/health');
  await page.evaluate(
    async ({ transport, channel, bundle }) => {
      const client = (await import(bundle)) as typeof import('../client/index.js');
      const out = { subscribed: false, all: [] as unknown[], creates: [] as unknown[] };
      (window as unknown as { out: typeof out }).out = out;
      const hub = new client.Hubbub(location.origin, { transports: [transport] });
      const sub = hub.subscribe(channel, {
        onSubscribed: () => (out.subscribed = true),
        onPublication: (p) => out.all.push(p.event === undefined ? { offset: p.offset } : { offset: p.offset, event: p.event }),
      });
      sub.on('create', (data, p) => out.creates.push({ data, offset: p.offset, event: p.event }));
    },
    { transport, channel: CHANNEL, bundle: '/client/hubbub.js' },
  );
  await expect.poll(() => out(page).then((o) => o.subscribed)).toBe(true);
}

const out = (page: Page): Promise<Out> => page.evaluate(() => (window as unknown as { out: Out }).out);

for (const transport of TRANSPORTS) {
  test(`subscription.on('create') gets only create publications, in order, over ${transport}`, async ({ page, hubbub }) => {
    await subscribeInPage(page, transport);
    const publish = async (body: Record<string, unknown>) => {
      const res = await fetch(`${hubbub.url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${hubbub.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: CHANNEL, ...body }),
      });
      expect(res.status).toBe(200);
    };
    await publish({ data: { id: 1 }, event: 'create' });
    await publish({ data: { id: 1, text: 'edited' }, event: 'update' });
    await publish({ data: 'no event' });
    await publish({ data: { id: 2 }, event: 'create' });
    await expect.poll(() => out(page).then((o) => o.all.length)).toBe(4);
    const o = await out(page);
    expect(o.all).toEqual([
      { offset: 1, event: 'create' },
      { offset: 2, event: 'update' },
      { offset: 3 },
      { offset: 4, event: 'create' },
    ]);
    expect(o.creates).toEqual([
      { data: { id: 1 }, offset: 1, event: 'create' },
      { data: { id: 2 }, offset: 4, event: 'create' },
    ]);
  });
}
