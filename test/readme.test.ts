import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { PollResponse, PublishResult } from '../contract/index.js';
import { README, SECURITY_MD, rewriteConfigTable, rewriteLimitsTable } from '../docs/generate-config.js';
import { type MainProcess, spawnMain } from './support/main-process.js';
import { NatsServer } from './support/nats-server.js';
import { openSession } from './support/raw-clients.js';
import { TEST_API_KEY, startServer } from './support/server.js';
import { readSse } from './support/sse-reader.js';

const readme = readFileSync(README, 'utf8');

interface Curl {
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** The README's curl commands, continuation lines joined, shell quoting undone. */
function curls(): Curl[] {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands = blocks.flatMap((b) => b.replace(/\\\n\s*/g, ' ').split('\n')).filter((l) => l.startsWith('curl '));
  return commands.map((line) => {
    const args = [...line.replace(/#.*$/, '').matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
    const headers: Record<string, string> = {};
    let body: string | undefined;
    let url = '';
    for (let i = 1; i < args.length; i++) {
      if (args[i] === '-H') {
        const [k, ...v] = args[++i]!.split(':');
        headers[k!.trim().toLowerCase()] = v.join(':').trim();
      } else if (args[i] === '-d') body = args[++i];
      else if (!args[i]!.startsWith('-')) url = args[i]!;
    }
    return { url, headers, body };
  });
}

describe('README', () => {
  it('shows the configuration table generated from server/config.ts', () => {
    expect(rewriteConfigTable(readme), 'run: npx tsx docs/generate-config.ts').toBe(readme);
    const security = readFileSync(SECURITY_MD, 'utf8');
    expect(rewriteLimitsTable(security), 'run: npx tsx docs/generate-config.ts').toBe(security);
  });

  it('names exactly the two quick-start commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });

  it('has curl examples that work as written', async () => {
    await using srv = await startServer();
    const resolve = (c: Curl, cursor = '') => ({
      url: c.url.replace('localhost:8080', srv.url).replace('<cursor>', encodeURIComponent(cursor)),
      headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, v.replace('$KEY', TEST_API_KEY)])),
    });
    const [publish, sse, pollFirst, pollNext] = curls();
    expect([publish, sse, pollFirst, pollNext].every(Boolean)).toBe(true);

    const sseReq = resolve(sse!);
    const abort = new AbortController();
    const stream = readSse((await fetch(sseReq.url, { signal: abort.signal })).body!);
    expect((await stream.next()).value).toMatchObject({ event: 'connected' });
    expect((await stream.next()).value).toMatchObject({ event: 'subscribed' });

    const first = PollResponse.parse(await (await fetch(resolve(pollFirst!).url)).json());
    const pub = resolve(publish!);
    const res = await fetch(pub.url, { method: 'POST', headers: pub.headers, body: publish!.body! });
    expect(PublishResult.parse(await res.json())).toMatchObject({ channel: 'chat:lobby', offset: 1 });

    const next = PollResponse.parse(await (await fetch(resolve(pollNext!, first.cursor).url)).json());
    expect(next.publications.map((p) => p.data)).toEqual([{ user: 'ada', text: 'hello' }]);
    let ev = (await stream.next()).value;
    while (ev && ev.event !== 'publication') ev = (await stream.next()).value;
    expect(JSON.parse(ev!.data).data).toEqual({ user: 'ada', text: 'hello' });
    await stream.return(undefined);
    abort.abort();
  });
});

/** The README's "Many nodes over NATS" block: its exported variables and its `npm start -- …` lines. */
function clusterRecipe(): { env: Record<string, string>; starts: string[][] } {
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('HUBBUB_NATS_URL'))!;
  const env: Record<string, string> = {};
  for (const m of block.matchAll(/(HUBBUB_[A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  const starts = block
    .split('\n')
    .filter((l) => l.startsWith('npm start -- '))
    .map((l) => l.replace(/&\s*$/, '').replace('npm start -- ', '').trim().split(/\s+/));
  return { env, starts };
}

describe('README: many nodes over NATS', () => {
  it('starts three nodes as written and they share one channel', async () => {
    const { env, starts } = clusterRecipe();
    expect(starts).toHaveLength(3);
    expect(env.HUBBUB_NATS_URL).toBe('nats://127.0.0.1:4222');
    const nats = await NatsServer.start();
    const nodes: MainProcess[] = [];
    try {
      for (const args of starts) {
        // Same flags, but a free port, and the test's nats-server instead of :4222.
        const free = args.map((a, i) => (args[i - 1] === '--port' ? '0' : a));
        const nodeEnv = { PATH: process.env.PATH ?? '', ...env, HUBBUB_NATS_URL: nats.url, HUBBUB_NATS_PREFIX: `readme${process.pid}` };
        nodes.push(await spawnMain([...free, '--host', '127.0.0.1'], nodeEnv));
      }
      const urls = nodes.map((n) => n.url);
      const sub = await openSession('websocket', urls[2]!, ['chat:lobby']);
      const res = await fetch(`${urls[0]}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.HUBBUB_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:lobby', data: 'across nodes' }),
      });
      expect(res.status).toBe(200);
      await vi.waitFor(() => expect(sub.publications.map((p) => p.data)).toEqual(['across nodes']), { timeout: 10_000 });
      await sub.close();
      await vi.waitFor(async () => {
        const res = await fetch(`${urls[1]}/api/info`, { headers: { authorization: `Bearer ${env.HUBBUB_API_KEY}` } });
        const info = (await res.json()) as { nodes: Array<{ node: string }> };
        expect(info.nodes.map((n) => n.node)).toEqual(['a', 'b', 'c']);
      }, { timeout: 10_000 });
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await nats.close();
    }
  }, 60_000);
});
