// The backend examples of docs/backends.md (issue #10), each run as written with Debian's interpreter
// against a real server: what they print is checked against the server's history, a live
// subscriber and a WebSocket that connects with the token they minted.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BroadcastResult, HistoryResponse, PublishResult } from '../contract/index.js';
import { BACKENDS_MD, includedFiles, rewriteIncludes } from '../docs/generate-backends.js';
import { buildClientPackage } from '../server/build/client-package.js';
import { UdpIngest } from '../server/ingest/udp.js';
import { type TestBuild, buildForTest } from './support/cli-process.js';
import { socketDir, startIngestServer } from './support/ingest.js';
import { openSession } from './support/raw-clients.js';
import { TEST_API_KEY, startServer } from './support/server.js';
import { connectWs } from './support/ws-client.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = 'docs/examples/backends';
const SECRET = 'backends-example-secret-of-at-least-32-characters';

let tmp: string;
let build: TestBuild;
let goBinary: string;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** How each example is run; the docs page states the same. Go is built once in beforeAll. */
const EXAMPLES: Record<string, () => [string, string[]]> = {
  'publish.py': () => ['/usr/bin/python3', [`${DIR}/publish.py`]],
  'publish.php': () => ['php', [`${DIR}/publish.php`]],
  'publish.rb': () => ['ruby', [`${DIR}/publish.rb`]],
  'publish.go': () => [goBinary, []],
  // Copied beside a node_modules holding the built client package, as a backend that installed it has.
  'publish.mjs': () => [process.execPath, [`${tmp}/node-app/publish.mjs`]],
  'publish.sh': () => ['bash', [`${DIR}/publish.sh`]],
};

/** PATH finds the test build's `hubbub` (for publish.sh) before anything installed. */
const baseEnv = () => ({ PATH: `${tmp}/bin:${process.env.PATH ?? ''}`, HOME: tmp, HUBBUB_TOKEN_SECRET: SECRET });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hubbub-backends-'));
  build = await buildForTest('backends-test');
  mkdirSync(`${tmp}/bin`);
  writeFileSync(`${tmp}/bin/hubbub`, `#!/bin/sh\nexec '${process.execPath}' '${build.bin}' "$@"\n`);
  chmodSync(`${tmp}/bin/hubbub`, 0o755);
  // Offline and standard library only: no module proxy, caches in the temp folder.
  // The Node example imports @hubbub/client/publisher and jose, as an app that ran
  // `npm install @hubbub/client jose` would: the package as `npm run build` makes it, and its
  // dependencies linked from this checkout (test/client-package.test.ts installs the packed tarball).
  const app = `${tmp}/node-app`;
  await buildClientPackage(`${app}/node_modules/@hubbub/client`);
  for (const dep of ['jose', 'zod', '@ts-rest/core', 'eventsource', 'eventsource-parser']) {
    mkdirSync(dirname(`${app}/node_modules/${dep}`), { recursive: true });
    symlinkSync(`${ROOT}node_modules/${dep}`, `${app}/node_modules/${dep}`);
  }
  copyFileSync(`${ROOT}${DIR}/publish.mjs`, `${app}/publish.mjs`);
  goBinary = `${tmp}/publish-go`;
  const go = await run('go', ['build', '-o', goBinary, `${DIR}/publish.go`], {
    ...baseEnv(),
    GOCACHE: `${tmp}/gocache`,
    GOPATH: `${tmp}/gopath`,
    GOPROXY: 'off',
    GOFLAGS: '',
  });
  expect(go, 'go build').toMatchObject({ code: 0, stderr: '' });
}, 180_000);

afterAll(async () => {
  await build?.remove();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('docs/backends.md', () => {
  it('shows every example file as it is (run: npx tsx docs/generate-backends.ts)', () => {
    const page = readFileSync(BACKENDS_MD, 'utf8');
    expect(rewriteIncludes(page)).toBe(page);
    const shown = includedFiles(page)
      .filter((f) => f.startsWith('examples/backends/'))
      .map((f) => f.replace('examples/backends/', ''));
    // Every file of the folder is shown and run here: a new one cannot skip either.
    expect(shown.sort()).toEqual(readdirSync(join(ROOT, DIR)).sort());
    expect(Object.keys(EXAMPLES).sort()).toEqual(shown);
    // The shell example of the ingest doors is shown too, and run below.
    expect(includedFiles(page).filter((f) => f.startsWith('examples/ingest/'))).toEqual(['examples/ingest/publish-nc.sh']);
  });
});

describe('docs/examples/ingest/publish-nc.sh', () => {
  it('publishes one line through the Unix socket (nc -U, its position printed) and one datagram through UDP (nc -u)', async () => {
    await using dir = await socketDir();
    const socket = join(dir.dir, 'hubbub.sock');
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: socket, HUBBUB_INGEST_UDP: '127.0.0.1:0' });
    const udp = srv.listeners.find((l): l is UdpIngest => l instanceof UdpIngest)!;
    const subscriber = await openSession('websocket', srv.url, ['ops:alerts']);
    const ran = await run('bash', [`${DIR.replace('backends', 'ingest')}/publish-nc.sh`], { PATH: process.env.PATH ?? '', HUBBUB_SOCKET: socket, HUBBUB_UDP_PORT: String(udp.port) });
    expect(ran, ran.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = ran.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([{ unix: { channel: 'ops:alerts', epoch: expect.any(String), offset: 1 } }, { udp: 'sent' }]);
    // Loopback, one datagram: it arrives (UDP is at most once: docs/ingest.md says what may drop it).
    await vi.waitFor(
      () =>
        expect(subscriber.publications.map((p) => [p.offset, p.event, p.data])).toEqual([
          [1, undefined, { text: 'disk full on db1' }],
          [2, 'deploy', { text: 'deploy 42 finished' }],
        ]),
      { timeout: 10_000 },
    );
    await subscriber.close();
  }, 60_000);
});

describe.each(Object.keys(EXAMPLES))('docs/examples/backends/%s', (file) => {
  it('publishes, broadcasts once despite the retry, reads history and mints a token the server accepts', async () => {
    await using srv = await startServer({ HUBBUB_TOKEN_SECRET: SECRET });
    const subscriber = await openSession('websocket', srv.url, ['chat:lobby', 'ops:alerts']);
    const [command, args] = EXAMPLES[file]!();
    const ran = await run(command, args, { ...baseEnv(), HUBBUB_URL: srv.url, HUBBUB_API_KEY: TEST_API_KEY });
    expect(ran, ran.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = ran.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const printed = (key: string) => lines.filter((l) => key in l).map((l) => l[key]);

    const [published] = printed('published').map((p) => PublishResult.parse(p));
    expect(published).toMatchObject({ channel: 'chat:lobby', offset: 1 });
    const [broadcast, ...more] = printed('broadcast').map((b) => BroadcastResult.parse(b));
    expect(more).toEqual([]);
    expect(broadcast!.results.map((r) => ('offset' in r ? [r.channel, r.offset] : r))).toEqual([
      ['chat:lobby', 2],
      ['ops:alerts', 1],
    ]);
    expect(printed('retried')).toEqual([broadcast]);

    // What it printed as history is what the server holds: the broadcast once, after the publish.
    const held = HistoryResponse.parse(await (await srv.api('/api/channels/chat:lobby/history')).json());
    expect(printed('history').map((h) => HistoryResponse.parse(h))).toEqual([held]);
    expect(held.publications.slice(0, 2).map((p) => p.data)).toEqual([{ text: expect.stringMatching(/^hello from /) }, { text: 'deploy 42 finished' }]);
    expect(held.publications.filter((p) => JSON.stringify(p.data).includes('deploy 42'))).toHaveLength(1);

    // The subscriber got every publication, once, at the positions the example printed.
    // `hubbub publish` prints <epoch>:<offset>; each channel has its own epoch.
    const channelOf = new Map(broadcast!.results.map((r) => ['epoch' in r ? r.epoch : '', r.channel]));
    const cli = printed('cli').map((p) => String(p).split(':'));
    const expected = [
      `chat:lobby@${published!.offset}`,
      ...broadcast!.results.map((r) => `${r.channel}@${'offset' in r ? r.offset : '?'}`),
      ...cli.map(([epoch, offset]) => `${channelOf.get(epoch!) ?? epoch}@${offset}`),
    ];
    await vi.waitFor(() => expect(subscriber.publications.map((p) => `${p.channel}@${p.offset}`).sort()).toEqual(expected.sort()), { timeout: 10_000 });
    await subscriber.close();

    // The token: the server knows the user and subscribes the connection to the token's channel.
    const [token] = printed('token');
    const ws = await connectWs(`${srv.wsUrl}?token=${encodeURIComponent(String(token))}`);
    try {
      expect(ws.frames[0]).toMatchObject({ type: 'connected', user: 'ada' });
      await ws.next('subscribed', (f) => f.channel === 'notifications:#ada');
      await srv.publish('notifications:#ada', { text: 'your export is ready' });
      expect(await ws.next('publication')).toMatchObject({ channel: 'notifications:#ada', data: { text: 'your export is ready' } });
    } finally {
      await ws.close();
    }
  }, 60_000);

  it('stops with the error code of the table when the API key is wrong', async () => {
    await using srv = await startServer({ HUBBUB_TOKEN_SECRET: SECRET });
    const [command, args] = EXAMPLES[file]!();
    const ran = await run(command, args, { ...baseEnv(), HUBBUB_URL: srv.url, HUBBUB_API_KEY: 'not-the-key' });
    expect(ran.code).not.toBe(0);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toContain('unauthorized');
    const held = HistoryResponse.parse(await (await srv.api('/api/channels/chat:lobby/history')).json());
    expect(held.publications).toEqual([]);
  }, 60_000);
});
