import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IngestReply } from '../contract/ingest.js';
import { createHubbub } from '../server/app.js';
import { connectBackbone } from '../server/backbone.js';
import { loadConfig } from '../server/config.js';
import { ingestListeners } from '../server/ingest/index.js';
import { UnixIngestError } from '../server/ingest/unix.js';
import { memoryLogger } from '../server/logger.js';
import { freshPrefix } from './support/cluster.js';
import { LineClient, shell, socketDir, startIngestServer } from './support/ingest.js';
import { NatsServer } from './support/nats-server.js';
import { openSession } from './support/raw-clients.js';
import { scrape } from './support/exposition.js';
import { TEST_API_KEY } from './support/server.js';

// The Unix socket door on a real node: lines in through a real socket (Node's net and netcat),
// reply lines out, WebSocket subscribers receiving what was ingested.

const line = (o: unknown) => JSON.stringify(o);

describe('ingest over a Unix socket', () => {
  it('publishes each line and answers each with its position, in order; a WebSocket subscriber receives them', async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path });
    const sub = await openSession('websocket', srv.url, ['ops:alerts']);
    const client = await LineClient.open(path);
    client.send(line({ channel: 'ops:alerts', data: 'disk full' }), line({ channel: 'ops:alerts', data: { n: 2 }, tags: { host: 'db1' } }));
    const replies = await client.replied(2);
    expect(replies.map((r) => ('offset' in r ? [r.channel, r.offset] : r))).toEqual([
      ['ops:alerts', 1],
      ['ops:alerts', 2],
    ]);
    await expect.poll(() => sub.publications.map((p) => [p.data, p.tags])).toEqual([
      ['disk full', undefined],
      [{ n: 2 }, { host: 'db1' }],
    ]);
    client.close();
    await sub.close();
  });

  it("takes the issue's netcat command: `echo … | nc -U` publishes and prints the position (nc waits for the server to close: -N ends it)", async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path });
    const sub = await openSession('websocket', srv.url, ['ops:alerts']);
    // Without -N netcat-openbsd keeps the connection after stdin ends, so it is stopped once the reply is out.
    const nc = spawn('bash', ['-c', `echo '{"channel":"ops:alerts","data":"disk full"}' | nc -U ${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    nc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await expect.poll(() => out).toMatch(/\n$/);
    expect(JSON.parse(out)).toMatchObject({ channel: 'ops:alerts', offset: 1 });
    nc.kill();
    const withN = await shell(`echo '{"channel":"ops:alerts","data":"again"}' | nc -N -U ${path}`);
    expect(withN.code).toBe(0);
    expect(JSON.parse(withN.stdout)).toMatchObject({ channel: 'ops:alerts', offset: 2 });
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['disk full', 'again']);
    await sub.close();
  });

  it('answers malformed, invalid and oversize lines with an error line from the table and keeps the connection', async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path, HUBBUB_MAX_MESSAGE_BYTES: '1024' });
    const client = await LineClient.open(path);
    client.send(
      'not json',
      line({ channel: 'bad channel!', data: 1 }),
      line({ data: 1 }),
      line({ channel: 'ops:x', data: 1, extra: true }),
      line({ channel: 'ops:x', data: 'x'.repeat(2000) }),
      '[1,2]',
      line({ channel: 'ops:x', data: 'fine' }),
    );
    const replies = await client.replied(7);
    expect(replies.map((r) => ('error' in r ? r.error.code : r.offset))).toEqual([
      'invalid_json',
      'invalid_channel',
      'bad_request',
      'bad_request',
      'payload_too_large',
      'bad_request',
      1,
    ]);
    const m = await scrape(srv.url, TEST_API_KEY);
    expect(m.value('hubbub_ingest_messages_total', { door: 'unix', outcome: 'malformed' })).toBe(5);
    expect(m.value('hubbub_ingest_messages_total', { door: 'unix', outcome: 'oversize' })).toBe(1);
    expect(m.value('hubbub_ingest_messages_total', { door: 'unix', outcome: 'accepted' })).toBe(1);
    client.close();
  });

  it('passes idempotency keys through: the same key publishes once and answers the same position', async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path });
    const client = await LineClient.open(path);
    const msg = line({ channel: 'ops:once', data: 'x', idempotencyKey: 'k-1' });
    client.send(msg, msg);
    const [a, b] = await client.replied(2);
    expect(a).toEqual(b);
    const history = await (await srv.api('/api/channels/ops:once/history')).json();
    expect(history.publications).toHaveLength(1);
    client.close();
  });

  it('refuses channels outside --ingest-namespaces with forbidden', async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path, HUBBUB_INGEST_NAMESPACES: 'ops,metrics' });
    const client = await LineClient.open(path);
    client.send(line({ channel: 'chat:lobby', data: 1 }), line({ channel: 'nonamespace', data: 1 }), line({ channel: 'metrics:cpu', data: 1 }));
    const replies = await client.replied(3);
    expect(replies.map((r) => ('error' in r ? r.error.code : r.channel))).toEqual(['forbidden', 'forbidden', 'metrics:cpu']);
    const m = await scrape(srv.url, TEST_API_KEY);
    expect(m.value('hubbub_ingest_messages_total', { door: 'unix', outcome: 'refused' })).toBe(2);
    client.close();
  });

  it('applies the file mode: with 0660 another user cannot connect, with 0666 it can publish', async () => {
    await using d = await socketDir();
    const closed = join(d.dir, 'closed.sock');
    const open = join(d.dir, 'open.sock');
    await using a = await startIngestServer({ HUBBUB_INGEST_UNIX: closed });
    await using b = await startIngestServer({ HUBBUB_INGEST_UNIX: open, HUBBUB_INGEST_UNIX_MODE: '0666' });
    expect((await lstat(closed)).mode & 0o777).toBe(0o660);
    expect((await lstat(open)).mode & 0o777).toBe(0o666);
    const asNobody = (path: string) =>
      shell(`echo '{"channel":"ops:who","data":1}' | setpriv --reuid=nobody --regid=nogroup --clear-groups nc -N -U ${path}`);
    const refused = await asNobody(closed);
    expect(refused.stderr).toMatch(/Permission denied/);
    expect(refused.stdout).toBe('');
    const allowed = await asNobody(open);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ channel: 'ops:who', offset: 1 });
    const published = await (await b.api('/api/channels/ops:who/history')).json();
    expect(published.publications.map((p: { data: unknown }) => p.data)).toEqual([1]);
    expect((await (await a.api('/api/channels/ops:who/history')).json()).publications).toEqual([]);
  });

  it('replaces a stale socket file at start, refuses a live one or a file that is not a socket, and removes its socket on stop', async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    // A socket file nobody listens on: what a node killed with -9 leaves behind.
    const stale = await shell(`python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' ${path}`);
    expect(stale.code).toBe(0);
    expect((await lstat(path)).isSocket()).toBe(true);
    const srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path });
    const client = await LineClient.open(path);
    client.send(line({ channel: 'ops:a', data: 1 }));
    expect(await client.replied(1)).toMatchObject([{ offset: 1 }]);
    client.close();

    // While that node listens, a second one must not take its socket away.
    await expect(startIngestServer({ HUBBUB_INGEST_UNIX: path })).rejects.toThrow(UnixIngestError);
    const still = await LineClient.open(path);
    still.send(line({ channel: 'ops:a', data: 2 }));
    expect(await still.replied(1)).toMatchObject([{ offset: 2 }]);
    still.close();

    await srv.close();
    expect(existsSync(path)).toBe(false);

    const plain = join(d.dir, 'plain');
    await writeFile(plain, 'keep me');
    await expect(startIngestServer({ HUBBUB_INGEST_UNIX: plain })).rejects.toThrow(/not a socket/);
    expect(await readFile(plain, 'utf8')).toBe('keep me');
  });
});

/** What line i must get back: an error code, a new publication on a channel, or the reply of the earlier line it repeats. */
type Expected = { error: string } | { channel: string; data: { i: number } } | { repeats: number };

/** `n` lines mixing four channels, malformed lines and idempotent repeats, from a fixed seed. */
function mixedLines(n: number, seed: number): { lines: string[]; expected: Expected[] } {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const channels = ['ops:a', 'ops:b', 'ops:c', 'ops:d'];
  const lines: string[] = [];
  const expected: Expected[] = [];
  const keyed: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.05) {
      lines.push('not json');
      expected.push({ error: 'invalid_json' });
    } else if (r < 0.08) {
      lines.push(line({ channel: 'bad channel!', data: i }));
      expected.push({ error: 'invalid_channel' });
    } else if (r < 0.13 && keyed.length > 0) {
      const of = keyed[Math.floor(rnd() * keyed.length)]!;
      lines.push(lines[of]!);
      expected.push({ repeats: of });
    } else {
      const channel = channels[Math.floor(rnd() * channels.length)]!;
      const key = rnd() < 0.08 ? { idempotencyKey: `k-${i}` } : {};
      if ('idempotencyKey' in key) keyed.push(i);
      lines.push(line({ channel, data: { i }, ...key }));
      expected.push({ channel, data: { i } });
    }
  }
  return { lines, expected };
}

/** A node on nats-server (built as `hubbub serve` builds it) with the Unix door. */
async function natsIngestNode(nats: NatsServer, path: string, prefix = freshPrefix()) {
  const config = loadConfig({
    env: {
      HUBBUB_API_KEY: TEST_API_KEY,
      HUBBUB_HOST: '127.0.0.1',
      HUBBUB_NATS_URL: nats.url,
      HUBBUB_NATS_PREFIX: prefix,
      HUBBUB_INGEST_UNIX: path,
      HUBBUB_HISTORY_SIZE: '1000',
    },
  });
  const logger = memoryLogger();
  const app = createHubbub(config, { logger, ...(await connectBackbone(config, logger)), listeners: ingestListeners(config) });
  await app.listen(0, '127.0.0.1');
  return app;
}

describe.each(['memory', 'nats'] as const)('pipelined lines of one connection (%s broker)', (broker) => {
  it('answers 2,000 lines written at once in line order, and each channel stores and numbers them in line order', async () => {
    await using d = await socketDir();
    const path = join(d.dir, 'hubbub.sock');
    const nats = broker === 'nats' ? await NatsServer.start() : undefined;
    const app = nats ? await natsIngestNode(nats, path) : (await startIngestServer({ HUBBUB_INGEST_UNIX: path, HUBBUB_HISTORY_SIZE: '1000' })).app;
    try {
      const { lines, expected } = mixedLines(2000, broker === 'nats' ? 7 : 11);
      const client = await LineClient.open(path);
      client.send(...lines);
      const replies = await client.replied(lines.length);
      client.close();

      // (1) Reply i answers line i.
      const got = (r: IngestReply) => ('error' in r ? { error: r.error.code } : { channel: r.channel });
      const want = (e: Expected): object => ('error' in e ? e : 'repeats' in e ? want(expected[e.repeats]!) : { channel: e.channel });
      expect(replies.map(got)).toEqual(expected.map(want));
      expected.forEach((e, i) => 'repeats' in e && expect(replies[i]).toEqual(replies[e.repeats]));

      // (2) Per channel, new publications are numbered in line order; (3) history holds them in that order.
      const perChannel = new Map<string, Array<{ data: { i: number }; offset: number }>>();
      expected.forEach((e, i) => {
        const r = replies[i]!;
        if (!('channel' in e) || !('offset' in r)) return;
        perChannel.set(e.channel, [...(perChannel.get(e.channel) ?? []), { data: e.data, offset: r.offset }]);
      });
      expect(perChannel.size).toBe(4);
      for (const [channel, pubs] of perChannel) {
        const offsets = pubs.map((p) => p.offset);
        expect(offsets.every((o, k) => k === 0 || o > offsets[k - 1]!), `${channel} offsets ${offsets.join(',')}`).toBe(true);
        const res = await fetch(`${app.url}/api/channels/${channel}/history`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
        const history = (await res.json()) as { publications: Array<{ data: unknown; offset: number }> };
        expect(history.publications.map((p) => [p.data, p.offset])).toEqual(pubs.map((p) => [p.data, p.offset]));
      }
    } finally {
      await app.close();
      await nats?.close();
    }
  });
});

describe('stopping with publishes in flight', () => {
  it('answers every line it published before closing the connection (NATS keeps what was stored: history = replies)', async () => {
    await using d = await socketDir();
    const nats = await NatsServer.start();
    const prefix = freshPrefix();
    try {
      const app = await natsIngestNode(nats, join(d.dir, 'a.sock'), prefix);
      const client = await LineClient.open(join(d.dir, 'a.sock'));
      const ended = new Promise<void>((resolve) => client.socket.once('end', resolve));
      client.send(...Array.from({ length: 2000 }, (_, i) => line({ channel: 'ops:stop', data: i })));
      await client.replied(1);
      await app.close();
      await ended;
      const replies = client.replies;
      expect(replies.map((r) => ('offset' in r ? r.offset : r))).toEqual(replies.map((_, k) => k + 1));

      // A second node on the same stream reads what the first one stored: exactly the lines it answered.
      const reader = await natsIngestNode(nats, join(d.dir, 'b.sock'), prefix);
      try {
        const res = await fetch(`${reader.url}/api/channels/ops:stop/history?limit=1000`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
        const history = (await res.json()) as { offset: number };
        expect(history.offset).toBe(replies.length);
      } finally {
        await reader.close();
      }
    } finally {
      await nats.close();
    }
  });
});
