import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebhookEvent } from '../contract/index.js';
import { TOKEN_SECRET, openSse, startWithConfig } from './support/secured.js';
import { signToken } from './support/tokens.js';

// The receivers of docs/webhooks.md (docs/examples/webhook-receiver.mjs, webhook_receiver.py), run
// as a backend would run them, behind a real Hubbub: they verify its signatures, print its events
// and judge its client publications, and refuse a request signed with another secret.

const SECRET = 'docs-webhook-secret-0123456789abcdef';

const RECEIVERS = [
  ['node', ['docs/examples/webhook-receiver.mjs']],
  ['/usr/bin/python3', ['docs/examples/webhook_receiver.py']],
] as const;

interface Running {
  port: number;
  events: WebhookEvent[];
  process: ChildProcess;
}

/** Starts an example on a free port; resolves once it says where it listens. */
function startExample(command: string, args: readonly string[]): Promise<Running> {
  const child = spawn(command, args, { env: { ...process.env, HUBBUB_WEBHOOK_SECRET: SECRET, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: WebhookEvent[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => events.push(WebhookEvent.parse(JSON.parse(line))));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const m = /listening on (\d+)/.exec(line);
      if (m) resolve({ port: Number(m[1]), events, process: child });
    });
  });
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill();
});

describe('docs/webhooks.md receivers', () => {
  it.each(RECEIVERS)('%s %s verifies signatures, prints events and judges client publications', async (command, args) => {
    const example = await startExample(command, args);
    running.push(example.process);
    const base = `http://127.0.0.1:${example.port}`;
    await using srv = await startWithConfig(`
webhooks:
  url: ${base}/events
  secret: ${SECRET}
  events: [connect, disconnect]
namespaces:
  room:
    publish: authenticated
    webhooks: [publish]
    publishProxy: { url: "${base}/publish-proxy" }
`);
    const token = await signToken(TOKEN_SECRET, { sub: 'ada' });
    const sse = await openSse(srv.url, `channels=room:a&token=${token}`);
    await sse.next('subscribed');
    const publish = (data: string) =>
      fetch(`${srv.url}/publish?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'room:a', data }) });
    expect((await publish('hello')).status).toBe(200);
    const refused = await publish('buy spam now');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'publish_rejected', message: expect.stringContaining('no spam, please') });
    await sse.close();
    await vi.waitFor(() => expect(example.events.map((e) => e.type)).toEqual(['connect', 'publish', 'disconnect']), { timeout: 15_000 });
    expect(example.events[1]).toMatchObject({ type: 'publish', publication: { data: 'hello', publisher: { user: 'ada' } } });

    const body = JSON.stringify({ id: 'x', node: 'n', events: [] });
    const forged = `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`;
    const res = await fetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'hubbub-signature': forged }, body });
    expect(res.status).toBe(401);
  });
});
