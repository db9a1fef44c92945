import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PollResponse } from '../contract/index.js';
import { readSse } from './support/sse-reader.js';
import { startServer } from './support/server.js';

// The token-minting examples of docs/security.md, run as a backend would run them (Node with jose,
// Debian's python3 with python3-jwt, Debian's php), and their tokens used on a real server.

const run = promisify(execFile);
const SECRET = 'docs-example-secret-of-at-least-32-characters';

async function mint(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, { env: { ...process.env, HUBBUB_TOKEN_SECRET: SECRET } });
  return stdout.trim();
}

const MINTERS = [
  ['node', ['docs/examples/mint-token.mjs']],
  ['/usr/bin/python3', ['docs/examples/mint_token.py']],
  ['php', ['docs/examples/mint-token.php']],
] as const;

describe('docs/security.md token examples', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-examples-'));
  const config = join(dir, 'hubbub.yaml');
  writeFileSync(config, 'namespaces:\n  board:\n    subscribe: token\n');

  it.each(MINTERS)('%s %s mints a connection token: the user, and the channels the backend chose, on SSE', async (command, args) => {
    await using srv = await startServer({ HUBBUB_TOKEN_SECRET: SECRET });
    const token = await mint(command, [...args, 'ada']);
    const abort = new AbortController();
    const res = await fetch(`${srv.url}/sse?token=${encodeURIComponent(token)}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const seen: Record<string, unknown> = {};
    for await (const e of readSse(res.body!)) {
      seen[e.event] = JSON.parse(e.data);
      if (e.event === 'subscribed') break;
    }
    abort.abort();
    expect(seen['connected']).toMatchObject({ user: 'ada' });
    expect(seen['subscribed']).toMatchObject({ channel: 'notifications:#ada' });
  });

  it.each(MINTERS.slice(0, 2))('%s %s mints a subscription token that opens one private channel', async (command, args) => {
    await using srv = await startServer({ HUBBUB_TOKEN_SECRET: SECRET, HUBBUB_CONFIG: config });
    const connection = await mint(command, [...args, 'ada']);
    const grant = await mint(command, [...args, 'ada', 'board:1']);
    const poll = (extra: string) =>
      fetch(`${srv.url}/poll?channels=board:1${extra}`, { headers: { authorization: `Bearer ${connection}` } });
    expect((await poll('')).status).toBe(403);
    const res = await poll(`&tokens=${encodeURIComponent(grant)}`);
    expect(res.status).toBe(200);
    expect(PollResponse.parse(await res.json()).subscriptions.map((s) => s.channel)).toEqual(['board:1', 'notifications:#ada']);
  });
});
