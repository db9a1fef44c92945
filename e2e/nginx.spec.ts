import { type Page, expect, test } from '@playwright/test';
import { joinDemo, subscribedToBoth } from './fixtures.js';
import { type ClusterFixture, startCluster } from '../test/support/cluster.js';
import { type Nginx, startNginx } from '../test/support/nginx.js';

// The demo page in Chromium, served and connected through Debian's nginx running
// docs/deploy/nginx.conf in front of three nodes on one nats-server. With no option the page must
// end up on WebSocket: a proxy that loses the upgrade would leave it working, silently, on SSE.

type DemoWindow = { hubbubDemo: { received: Array<{ channel: string; data: unknown }> } };
const received = (page: Page, channel: string) =>
  page.evaluate((c) => (window as unknown as DemoWindow).hubbubDemo.received.filter((r) => r.channel === c).map((r) => r.data), channel);

test.describe('the demo through nginx (docs/deploy/nginx.conf) over three nodes', () => {
  let cluster: ClusterFixture | undefined;
  let nginx: Nginx | undefined;

  test.beforeAll(async () => {
    cluster = await startCluster(3);
    nginx = await startNginx(cluster.nodes.map((n) => n.url));
  });

  test.afterAll(async () => {
    await nginx?.close();
    await cluster?.close();
  });

  const cases = [
    { query: '', transport: 'websocket' },
    { query: '?transports=sse', transport: 'sse' },
    { query: '?transports=poll', transport: 'poll' },
  ] as const;

  for (const { query, transport } of cases) {
    test(`${query || 'default options'}: the page connects over ${transport} and receives a publication`, async ({ page }) => {
      const origin = nginx!.url;
      const stray: string[] = [];
      page.on('pageerror', (err) => stray.push(err.message));
      page.on('request', (req) => {
        if (!req.url().startsWith(origin) && !req.url().startsWith(origin.replace('http', 'ws'))) stray.push(`request to ${req.url()}`);
      });
      const channel = `notifications:#${await joinDemo(page, 'Ada', `${origin}/${query}`)}`;
      await expect(page.getByTestId('state')).toHaveText('connected');
      await expect(page.getByTestId('transport')).toHaveText(transport);

      // Published on a node directly: it reaches the page through whichever node nginx chose.
      const data = { title: `through nginx on ${transport}`, body: 'hello' };
      await subscribedToBoth(page);
      await cluster!.nodes[0]!.publish(channel, data);
      await expect.poll(() => received(page, channel)).toEqual([data]);
      await expect(page.getByTestId('notifications')).toContainText(data.title);
      expect(stray).toEqual([]);
    });
  }
});
