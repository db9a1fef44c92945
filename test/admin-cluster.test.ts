// The admin dashboard on a two-node cluster over a real nats-server: a session signed in on one
// node works on the other (no sticky sessions), the nodes page lists both with the counters of
// their heartbeats, the channels page adds up subscribers across nodes, and a disconnect reaches
// a user connected to the other node.
import { describe, expect, it, vi } from 'vitest';
import { AdminSession, DISCONNECT_TABLE } from '../contract/index.js';
import { type InProcessNode, startCluster } from './support/cluster.js';
import { signToken } from './support/tokens.js';
import { connectWs } from './support/ws-client.js';

const PASSWORD = 'correct horse battery staple';
const SECRET = 'cluster-token-secret-0123456789abcdefgh';
const wsUrl = (node: InProcessNode) => node.url.replace('http', 'ws') + '/ws';

async function signIn(node: InProcessNode) {
  const res = await fetch(`${node.url}/admin/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret: PASSWORD }) });
  expect(res.status).toBe(200);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: AdminSession.parse(await res.json()).csrf };
}

describe('admin dashboard on a cluster', () => {
  it('lists both nodes with their counters, adds up channels, and disconnects a user on the other node', async () => {
    await using cluster = await startCluster(2, { HUBBUB_ADMIN_PASSWORD: PASSWORD, HUBBUB_TOKEN_SECRET: SECRET, HUBBUB_NODE_HEARTBEAT: '1' });
    const [n1, n2] = cluster.nodes as [InProcessNode, InProcessNode];
    const { cookie, csrf } = await signIn(n1);
    const get = async (node: InProcessNode, path: string) => {
      const res = await fetch(`${node.url}/admin/api/${path}`, { headers: { cookie } });
      expect(res.status).toBe(200);
      return res.json();
    };

    const ada = await connectWs(`${wsUrl(n2)}?token=${await signToken(SECRET, { sub: 'ada' })}`);
    ada.send({ id: 1, type: 'subscribe', channel: 'news' });
    await ada.next('subscribed');
    const reader = await connectWs(wsUrl(n1));
    reader.send({ id: 1, type: 'subscribe', channel: 'news' });
    await reader.next('subscribed');
    await n1.publish('news', 1);
    await n1.publish('news', 2);

    // Signed in on n1, read on n2: both nodes, n2's counters from its own sample.
    await vi.waitFor(
      async () => {
        const { nodes } = (await get(n2, 'nodes')) as { nodes: Array<{ node: string; connections?: number; subscriptions?: number }> };
        expect(nodes.map((n) => [n.node, n.connections, n.subscriptions])).toEqual([
          ['n1', 1, 1],
          ['n2', 1, 1],
        ]);
      },
      { timeout: 10_000, interval: 200 },
    );
    await vi.waitFor(
      async () => {
        const { channels } = (await get(n1, 'channels')) as { channels: unknown[] };
        expect(channels).toEqual([expect.objectContaining({ channel: 'news', subscribers: 2, nodes: 2, offset: 2 })]);
      },
      { timeout: 10_000, interval: 200 },
    );
    const page = (await get(n1, 'channels/news')) as { presence: Array<{ user: string | null; node: string }> };
    expect(page.presence.filter((p) => p.user === 'ada').map((p) => p.node)).toEqual(['n2']);

    const res = await fetch(`${n1.url}/admin/api/disconnect`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ada' }),
    });
    expect(await res.json()).toEqual({ user: 'ada', connections: 1 });
    expect(await ada.closeCode).toBe(DISCONNECT_TABLE.disconnected_by_server.code);
    await reader.close();
  });
});
