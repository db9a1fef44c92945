import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PollResponse, PublishResult } from '../contract/index.js';
import { README, rewriteConfigTable } from '../docs/generate-config.js';
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
