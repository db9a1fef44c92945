import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IngestMessage, IngestReply } from '../contract/ingest.js';
import { loadConfig } from '../server/config.js';
import { UdpIngest } from '../server/ingest/udp.js';
import { type IngestServer, shell, socketDir, startIngestServer } from './support/ingest.js';
import { openSession } from './support/raw-clients.js';
import { TEST_API_KEY } from './support/server.js';

// docs/ingest.md's examples, run as written against a real node: only the socket path and the
// UDP port are replaced by the test's own. The JSON examples must be what the contract says.

const DOC = readFileSync(new URL('../docs/ingest.md', import.meta.url), 'utf8');
const blocks = (lang: string) => [...DOC.matchAll(/```(\w+)\n([\s\S]*?)```/g)].filter((m) => m[1] === lang).map((m) => m[2]!);
const shBlocks = blocks('sh');
const commands = (pattern: RegExp) => shBlocks.filter((b) => pattern.test(b) && !b.startsWith('hubbub serve'));

function udpPort(srv: IngestServer): number {
  return srv.listeners.find((l): l is UdpIngest => l instanceof UdpIngest)!.port;
}

describe('docs/ingest.md', () => {
  it('shows messages and replies that match the contract', () => {
    const json = blocks('json').map((b) => JSON.parse(b) as unknown);
    expect(json).toHaveLength(3);
    expect(IngestMessage.safeParse(json[0]).success).toBe(true);
    expect(IngestReply.safeParse(json[1]).success).toBe(true);
    expect(IngestReply.safeParse(json[2]).success).toBe(true);
  });

  it('names only flags the server knows in its `hubbub serve` lines', () => {
    const serves = shBlocks.filter((b) => b.startsWith('hubbub serve'));
    expect(serves).toHaveLength(2);
    for (const line of serves) {
      const argv = line.trim().split(/\s+/).slice(2);
      expect(() => loadConfig({ argv, env: { HUBBUB_API_KEY: TEST_API_KEY } })).not.toThrow();
    }
  });

  it('Unix socket examples: each publishes and prints one position per line', async () => {
    await using d = await socketDir();
    const path = `${d.dir}/hubbub.sock`;
    await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path });
    const sub = await openSession('websocket', srv.url, ['ops:alerts', 'ops:deploys']);
    const examples = commands(/nc -N -U/);
    expect(examples).toHaveLength(2);
    for (const example of examples) {
      const run = await shell(example.replaceAll('/run/hubbub.sock', path));
      expect(run.code).toBe(0);
      const replies = run.stdout.trim().split('\n').map((l) => IngestReply.parse(JSON.parse(l)));
      expect(replies.length).toBeGreaterThan(0);
      for (const r of replies) expect(r).not.toHaveProperty('error');
    }
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['disk full', { app: 'web', version: '1.4.2' }, { app: 'api', version: '2.0.0' }]);
    await sub.close();
  });

  it('UDP examples: netcat and /dev/udp unsigned on loopback, and the openssl recipe against a node with that secret', async () => {
    const plain = commands(/8125/).filter((b) => !b.includes('SECRET'));
    const signed = commands(/8125/).filter((b) => b.includes('SECRET'));
    expect(plain).toHaveLength(2);
    expect(signed).toHaveLength(1);
    const secret = /SECRET=(\S+)/.exec(signed[0]!)![1]!;

    await using open = await startIngestServer({ HUBBUB_INGEST_UDP: '127.0.0.1:0' });
    const sub = await openSession('websocket', open.url, ['ops:alerts']);
    for (const example of plain) expect((await shell(example.replaceAll('8125', String(udpPort(open))))).code).toBe(0);
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['deploy', 'deploy']);
    await sub.close();

    await using guarded = await startIngestServer({ HUBBUB_INGEST_UDP: '127.0.0.1:0', HUBBUB_INGEST_UDP_SECRET: secret });
    const sub2 = await openSession('websocket', guarded.url, ['ops:alerts']);
    for (const example of [...plain, ...signed]) expect((await shell(example.replaceAll('8125', String(udpPort(guarded))))).code).toBe(0);
    // The unsigned examples are refused by a node with a secret; the signed one is published.
    await expect.poll(() => sub2.publications.map((p) => p.data)).toEqual(['signed deploy']);
    await sub2.close();
  });
});
