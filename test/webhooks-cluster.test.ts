import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openSse } from './support/secured.js';
import { startCluster } from './support/cluster.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

// Occupancy in a cluster is per node (docs/webhooks.md): each node reports the first subscriber and
// the vacating of a channel on itself, with its node id, so the backend can keep (channel, node) pairs.

describe('webhooks in a cluster', () => {
  it('sends occupied and vacated per node, each with the id of the node it happened on', async () => {
    await using receiver = await WebhookReceiver.start();
    const dir = await mkdtemp(join(tmpdir(), 'hubbub-webhooks-'));
    const file = join(dir, 'hubbub.yaml');
    await writeFile(file, `webhooks:\n  url: ${receiver.url}/events\nnamespaces:\n  room:\n    webhooks: [occupied, vacated]\n`);
    try {
      await using cluster = await startCluster(2, { HUBBUB_CONFIG: file, HUBBUB_TOKEN_SECRET: 'cluster-webhook-token-secret-0123456789' });
      const [n1, n2] = cluster.nodes;
      const on = (node: string) => receiver.events().filter((e) => e.node === node && (e.type === 'occupied' || e.type === 'vacated')).map((e) => e.type);
      const a = await openSse(n1!.url, 'channels=room:shared');
      await a.next('subscribed');
      await vi.waitFor(() => expect(on('n1')).toEqual(['occupied']), { timeout: 15_000 });
      const b = await openSse(n2!.url, 'channels=room:shared');
      await b.next('subscribed');
      // n1 already held a subscriber: n2 reports its own first one all the same.
      await vi.waitFor(() => expect(on('n2')).toEqual(['occupied']), { timeout: 15_000 });
      await a.close();
      await vi.waitFor(() => expect(on('n1')).toEqual(['occupied', 'vacated']), { timeout: 15_000 });
      expect(on('n2')).toEqual(['occupied']);
      await b.close();
      await vi.waitFor(() => expect(on('n2')).toEqual(['occupied', 'vacated']), { timeout: 15_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
