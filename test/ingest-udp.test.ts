import { createSocket } from 'node:dgram';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';
import { UdpIngest, sign } from '../server/ingest/udp.js';
import { scrape } from './support/exposition.js';
import { type IngestServer, shell, startIngestServer } from './support/ingest.js';
import { openSession } from './support/raw-clients.js';
import { TEST_API_KEY } from './support/server.js';

// The UDP door on a real node: datagrams from Node's dgram and from netcat, counted on /metrics.
// No reply comes back, so each case waits on what it can see: publications at a WebSocket
// subscriber, or the door's counters.

const SECRET = 'ingest-udp-secret-0123456789';

function udpPort(srv: IngestServer): number {
  const door = srv.listeners.find((l): l is UdpIngest => l instanceof UdpIngest);
  if (!door) throw new Error('no UDP door');
  return door.port;
}

async function send(port: number, ...datagrams: Array<string | Buffer>): Promise<void> {
  const socket = createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((resolve, reject) => socket.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  socket.close();
}

const counted = async (srv: IngestServer, outcome: string) =>
  (await scrape(srv.url, TEST_API_KEY)).value('hubbub_ingest_messages_total', { door: 'udp', outcome });

describe('ingest over UDP', () => {
  it("publishes one JSON object per datagram (dgram, `nc -u -q0`, bash's /dev/udp) to WebSocket subscribers, counted accepted", async () => {
    await using srv = await startIngestServer({ HUBBUB_INGEST_UDP: '127.0.0.1:0' });
    const port = udpPort(srv);
    const sub = await openSession('websocket', srv.url, ['ops:alerts']);
    await send(port, JSON.stringify({ channel: 'ops:alerts', data: 'from dgram', idempotencyKey: 'u1' }));
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['from dgram']);
    const nc = await shell(`echo '{"channel":"ops:alerts","data":"deploy"}' | nc -u -q0 127.0.0.1 ${port}`);
    expect(nc.code).toBe(0);
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['from dgram', 'deploy']);
    const bash = await shell(`echo '{"channel":"ops:alerts","data":"from bash"}' > /dev/udp/127.0.0.1/${port}`);
    expect(bash.code).toBe(0);
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['from dgram', 'deploy', 'from bash']);
    expect(await counted(srv, 'accepted')).toBe(3);
    await sub.close();
  });

  it("takes the issue's `nc -u -w0`, which may quit before reading its input (so it is sent until one arrives)", async () => {
    await using srv = await startIngestServer({ HUBBUB_INGEST_UDP: '127.0.0.1:0' });
    const port = udpPort(srv);
    const sub = await openSession('websocket', srv.url, ['ops:alerts']);
    // -w0 gives netcat no time to read stdin: about one datagram in eight is never sent on a busy machine.
    await vi.waitFor(
      async () => {
        if (sub.publications.length > 0) return;
        await shell(`echo '{"channel":"ops:alerts","data":"deploy"}' | nc -u -w0 127.0.0.1 ${port}`);
        throw new Error('not received yet');
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(sub.publications[0]!.data).toBe('deploy');
    await sub.close();
  });

  it('counts malformed and oversize datagrams and publishes none of them', async () => {
    await using srv = await startIngestServer({ HUBBUB_INGEST_UDP: '127.0.0.1:0', HUBBUB_INGEST_UDP_MAX_BYTES: '256' });
    const port = udpPort(srv);
    const sub = await openSession('websocket', srv.url, ['ops:x']);
    await send(
      port,
      'not json',
      JSON.stringify({ channel: 'bad channel!', data: 1 }),
      JSON.stringify({ channel: 'ops:x' }),
      JSON.stringify({ channel: 'ops:x', data: 'y'.repeat(300) }),
    );
    await expect.poll(() => counted(srv, 'malformed')).toBe(3);
    await expect.poll(() => counted(srv, 'oversize')).toBe(1);
    // A good datagram after them goes through: the bad ones were dropped, not queued.
    await send(port, JSON.stringify({ channel: 'ops:x', data: 'ok' }));
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['ok']);
    await sub.close();
  });

  it('with a secret, publishes only datagrams signed with it (the openssl recipe too); unsigned or wrongly signed ones are refused', async () => {
    await using srv = await startIngestServer({ HUBBUB_INGEST_UDP: '127.0.0.1:0', HUBBUB_INGEST_UDP_SECRET: SECRET });
    const port = udpPort(srv);
    const sub = await openSession('websocket', srv.url, ['ops:signed']);
    const body = JSON.stringify({ channel: 'ops:signed', data: 'forged' });
    await send(port, body, sign(body, 'a-different-secret-0123456789'), `${'0'.repeat(64)} ${body}`);
    await expect.poll(() => counted(srv, 'refused')).toBe(3);
    await send(port, sign(JSON.stringify({ channel: 'ops:signed', data: 'signed' }), SECRET));
    const recipe = await shell(
      `body='{"channel":"ops:signed","data":"from openssl"}'
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$HUBBUB_INGEST_UDP_SECRET" -r | cut -d' ' -f1)
echo "$sig $body" | nc -u -q0 127.0.0.1 ${port}`,
      { HUBBUB_INGEST_UDP_SECRET: SECRET },
    );
    expect(recipe.code).toBe(0);
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual(['signed', 'from openssl']);
    expect(await counted(srv, 'refused')).toBe(3);
    expect(await counted(srv, 'accepted')).toBe(2);
    await sub.close();
  });

  it('refuses at config time to bind beyond loopback without a secret', () => {
    const env = { HUBBUB_API_KEY: TEST_API_KEY };
    expect(() => loadConfig({ env: { ...env, HUBBUB_INGEST_UDP: '0.0.0.0:8125' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { ...env, HUBBUB_INGEST_UDP: '0.0.0.0:8125' } })).toThrow(/--ingest-udp-secret/);
    expect(loadConfig({ env: { ...env, HUBBUB_INGEST_UDP: '0.0.0.0:8125', HUBBUB_INGEST_UDP_SECRET: SECRET } }).ingestUdp).toBe('0.0.0.0:8125');
    expect(loadConfig({ env: { ...env, HUBBUB_INGEST_UDP: '8125' } }).ingestUdp).toBe('8125');
    expect(loadConfig({ env: { ...env, HUBBUB_INGEST_UDP: '[::1]:8125' } }).ingestUdp).toBe('[::1]:8125');
    expect(() => loadConfig({ env: { ...env, HUBBUB_INGEST_UDP: '127.0.0.1:99999' } })).toThrow(ConfigError);
  });
});
