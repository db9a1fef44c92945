// The `hubbub` command (issue #9), built and run as a shell or cron would: each subcommand for
// real against a running server, and what it prints and exits with when something is wrong.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { type Publication, ServerFrame } from '../contract/index.js';
import { type Running, type TestBuild, buildForTest, runNode, startNode } from './support/cli-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = 'docs/examples/hubbub.yaml';
const KEY = 'cli-test-api-key-0123456789';
const VERSION = (await import('../server/version.js')).VERSION;

let build: TestBuild;
let server: Running;
const hubbub = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) => runNode([build.bin, ...args], opts);
/** `hubbub publish` against the test server with its key. */
const publish = (args: string[], input?: string) => hubbub(['publish', ...args], { env: { HUBBUB_URL: server.url, HUBBUB_API_KEY: KEY }, input });

beforeAll(async () => {
  build = await buildForTest('cli-test');
  // The example config has a token secret and namespaces: a production-like server.
  server = await startNode([build.bin, 'serve', '--config', EXAMPLE, '--port', '0', '--host', '127.0.0.1'], { HUBBUB_API_KEY: KEY });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await build?.remove();
});

async function publications(channel: string): Promise<Publication[]> {
  const res = await fetch(`${server.url}/api/channels/${encodeURIComponent(channel)}/history`, { headers: { authorization: `Bearer ${KEY}` } });
  return ((await res.json()) as { publications: Publication[] }).publications;
}

async function history(channel: string): Promise<unknown[]> {
  return (await publications(channel)).map((p) => p.data);
}

/** Connects over WebSocket with a connection token; the user the server saw, or the error code. */
async function connectAs(url: string, token: string): Promise<string | null | undefined> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ id: 1, type: 'connect', token }));
    for (;;) {
      const frame = ServerFrame.parse(JSON.parse((await new Promise<WebSocket.RawData>((resolve) => ws.once('message', resolve))).toString()));
      if (frame.type === 'connected' && frame.id === 1) return frame.user;
      if (frame.type === 'error') return `error:${frame.code}`;
    }
  } finally {
    ws.terminate();
  }
}

describe('hubbub --help and --version', () => {
  it('lists every subcommand, and each subcommand answers --help and --version', async () => {
    const top = await hubbub(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['[serve]', 'check-config FILE', 'publish CHANNEL DATA|-', 'token --user ID']) expect(top.stdout).toContain(`hubbub ${cmd}`);
    expect((await hubbub(['--version'])).stdout.trim()).toBe(VERSION);
    for (const [cmd, usage] of [['serve', 'Usage: hubbub serve'], ['check-config', 'Usage: hubbub check-config FILE'], ['publish', 'Usage: hubbub publish CHANNEL DATA'], ['token', 'Usage: hubbub token --user ID']]) {
      const help = await hubbub([cmd!, '--help']);
      expect(help.code, cmd).toBe(0);
      expect(help.stdout, cmd).toContain(usage);
      expect((await hubbub([cmd!, '--version'])).stdout.trim(), cmd).toBe(VERSION);
    }
  });

  it('refuses an unknown command or flag with exit code 2', async () => {
    const unknown = await hubbub(['frobnicate']);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badFlag = await hubbub(['publish', 'a', '1', '--colour', 'blue']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("Unknown option '--colour'");
  });
});

describe('hubbub check-config', () => {
  it('summarises a good file and exits 0', async () => {
    const ran = await hubbub(['check-config', EXAMPLE]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(`${EXAMPLE}: OK`);
    expect(ran.stdout).toContain('namespaces: notifications, chat, board');
    expect(ran.stdout).toContain('token key: shared secret');
    expect(ran.stdout).toContain('API keys: 2 scoped');
  });

  it('names the file and each bad key of a bad file and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubbub-cli-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'port: 80000\ncolour: blue\nnamespaces:\n  chat:\n    subscribe: whoever\n');
    const ran = await hubbub(['check-config', bad]);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toContain(`config file ${bad}`);
    expect(ran.stderr).toContain('unknown key "colour"');
    expect(ran.stderr).toContain('port:');
    expect(ran.stderr).toContain('namespaces.chat.subscribe');
    const missing = await hubbub(['check-config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read config file');
    expect((await hubbub(['check-config'])).code).toBe(2);
  });
});

describe('hubbub publish', () => {
  it('publishes DATA and prints its position; the server has it in history', async () => {
    const ran = await publish(['cli:arg', '{"text":"hello"}']);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^[A-Za-z0-9_-]+:1\n$/);
    expect(await history('cli:arg')).toEqual([{ text: 'hello' }]);
  });

  it('publishes each non-empty line of stdin in order, one position per line', async () => {
    const ran = await publish(['ops:alerts', '-'], '{"text":"backup done"}\r\n\n  \n42\n"three"');
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout.trim().split('\n').map((l) => l.split(':')[1])).toEqual(['1', '2', '3']);
    expect(await history('ops:alerts')).toEqual([{ text: 'backup done' }, 42, 'three']);
  });

  it('--event names each publication, from DATA and from stdin lines; a malformed name exits 2 and publishes nothing', async () => {
    expect((await publish(['cli:event', '{"id":1}', '--event', 'order.created'])).code).toBe(0);
    expect((await publish(['cli:event', '-', '--event', 'order.paid'], '{"id":1}\n')).code).toBe(0);
    expect((await publications('cli:event')).map((p) => [p.event, p.data])).toEqual([
      ['order.created', { id: 1 }],
      ['order.paid', { id: 1 }],
    ]);
    const bad = await publish(['cli:event', '{"id":2}', '--event', 'has space']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--event');
    expect(await publications('cli:event')).toHaveLength(2);
  });

  it('--text sends lines as strings; --idempotency-key makes a re-run publish nothing twice', async () => {
    const input = 'disk at 91%\nnot {json\n';
    const first = await publish(['cli:text', '-', '--text', '--idempotency-key', 'run-7'], input);
    expect(first.code).toBe(0);
    const again = await publish(['cli:text', '-', '--text', '--idempotency-key', 'run-7'], input);
    expect(again.stdout).toBe(first.stdout);
    expect(await history('cli:text')).toEqual(['disk at 91%', 'not {json']);
  });

  it('stops at a line that is not JSON, after publishing the lines before it, and exits 1', async () => {
    const ran = await publish(['cli:badline', '-'], '{"n":1}\nnot json\n{"n":3}\n');
    expect(ran.code).toBe(1);
    expect(ran.stdout.trim().split('\n')).toHaveLength(1);
    expect(ran.stderr).toContain('line 2 is not JSON');
    expect(await history('cli:badline')).toEqual([{ n: 1 }]);
  });

  it('prints the error code and message of a refused publish and exits 1', async () => {
    const ran = await hubbub(['publish', 'cli:refused', '{}', '--url', server.url, '--api-key', 'wrong-key-0123456789']);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toMatch(/^hubbub: unauthorized \(401\): /);
    const invalid = await publish(['no spaces allowed', '{}']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/hubbub: (bad_request|invalid_channel) \(400\)/);
    expect(await history('cli:refused')).toEqual([]);
  });

  it('exits 2 for DATA that is not JSON or a missing key, and 1 for a server it cannot reach', async () => {
    const notJson = await publish(['cli:x', 'hello']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('DATA is not JSON');
    const noKey = await hubbub(['publish', 'cli:x', '1', '--url', server.url]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('needs an API key');
    const unreachable = await hubbub(['publish', 'cli:x', '1', '--url', 'http://127.0.0.1:1', '--api-key', KEY]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach http://127.0.0.1:1');
  });
});

describe('hubbub token', () => {
  it('signs a connection token the server accepts, with the secret of the same config file', async () => {
    const ran = await hubbub(['token', '--user', 'ada', '--ttl', '15m', '--config', EXAMPLE]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const token = ran.stdout.trim();
    expect(await connectAs(server.url, token)).toBe('ada');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(900);
  });

  it('a token signed with another secret is refused, and without any secret it exits 2', async () => {
    const other = await hubbub(['token', '--user', 'ada', '--token-secret', 'another-secret-of-at-least-32-characters']);
    expect(other.code).toBe(0);
    expect(await connectAs(server.url, other.stdout.trim())).toBe('error:token_invalid');
    const none = await hubbub(['token', '--user', 'ada']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no token secret');
    expect((await hubbub(['token', '--user', 'ada', '--ttl', 'soon', '--config', EXAMPLE])).code).toBe(2);
  });
});

describe('hubbub with no subcommand', () => {
  it('serves, as `hubbub serve` would; a development server takes `hubbub token` signed from the same API key', async () => {
    const env = { HUBBUB_API_KEY: 'dev-mode-key-0123456789' };
    const dev = await startNode([build.bin, '--port', '0', '--host', '127.0.0.1'], env);
    try {
      await vi.waitFor(() => expect(dev.output()).toMatch(/development mode/));
      const ran = await hubbub(['token', '--user', 'bob'], { env });
      expect(ran.code).toBe(0);
      expect(await connectAs(dev.url, ran.stdout.trim())).toBe('bob');
    } finally {
      expect(await dev.stop()).toBe(0);
    }
  });
});
