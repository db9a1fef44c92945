import { type Page, expect, test } from '@playwright/test';
import { joinDemo } from './fixtures.js';
import { type Balancer, startBalancer } from '../test/support/balancer.js';
import { type ClusterFixture, startCluster } from '../test/support/cluster.js';

/**
 * The demo page in Chromium, served and connected through a round-robin balancer (no sticky
 * sessions) in front of three nodes on one nats-server, on each transport in turn. The page signs
 * in with a dev token from whichever node the balancer picks; the nodes share the API key, so they
 * share the dev token secret too.
 */

type Received = { channel: string; data: unknown; offset: number };
type DemoWindow = { hubbubDemo: { received: Received[]; states: Array<{ channel: string; recovered: boolean }> } };

const received = (page: Page, channel: string) =>
  page.evaluate((c) => (window as unknown as DemoWindow).hubbubDemo.received.filter((r) => r.channel === c), channel);
const subscribedChannels = (page: Page) =>
  page.evaluate(() => [...new Set((window as unknown as DemoWindow).hubbubDemo.states.map((s) => s.channel))].sort());

test.describe('the demo behind a round-robin balancer over three nodes', () => {
  let cluster: ClusterFixture | undefined;
  let lb: Balancer | undefined;

  test.beforeAll(async () => {
    cluster = await startCluster(3);
    lb = await startBalancer(cluster.nodes.map((n) => n.url));
  });

  test.afterAll(async () => {
    await lb?.close();
    await cluster?.close();
  });

  for (const transport of ['websocket', 'sse', 'poll'] as const) {
    test(`?transports=${transport}: 20 publications made on different nodes arrive once each, in order`, async ({ page }) => {
      const { nodes } = cluster!;
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      // Everything goes through the balancer: the page never learns a node's own address.
      page.on('request', (req) => {
        if (!req.url().startsWith(lb!.url) && !req.url().startsWith(lb!.url.replace('http', 'ws'))) errors.push(`request to ${req.url()}`);
      });
      const channel = `notifications:#${await joinDemo(page, 'Ada', `${lb!.url}/?transports=${transport}`)}`;
      await expect(page.getByTestId('state')).toHaveText('connected');
      await expect(page.getByTestId('transport')).toHaveText(transport);
      await expect.poll(() => subscribedChannels(page)).toEqual(['chat:lobby', channel]);

      const published: Received[] = [];
      // Two at a time, from consecutive nodes, so the nodes also race for offsets.
      for (let i = 0; i < 20; i += 2) {
        const batch = await Promise.all(
          [i, i + 1].map(async (n) => {
            const data = { title: `${transport} #${n}`, body: `from ${nodes[n % 3]!.id}` };
            const { offset } = await nodes[n % 3]!.publish(channel, data);
            return { channel, data, offset };
          }),
        );
        published.push(...batch);
      }
      published.sort((a, b) => a.offset - b.offset);
      expect(published.map((p) => p.offset)).toEqual(published.map((_, k) => published[0]!.offset + k));

      await expect.poll(async () => (await received(page, channel)).length).toBeGreaterThanOrEqual(20);
      expect(await received(page, channel)).toEqual(published);
      await expect(page.getByTestId('notifications')).toContainText(`${transport} #19`);
      expect(errors).toEqual([]);
    });
  }
});
