// npm run bench -- --ingest unix|udp [--subscribers 100] [--messages 5000]
// The ingest doors end to end (docs/ingest.md): messages in through the Unix socket or as UDP
// datagrams, deliveries out to WebSocket subscribers of a server process. Reports deliveries/s
// from the first message sent to the last delivery, and for UDP how many datagrams were sent,
// published (hubbub_ingest_messages_total) and so dropped on the way (kernel buffer, refusals).
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition } from '../test/support/exposition.js';
import { type ServerProcess, startServerProcess } from './server-process.js';
import { Tally, now, openSubscriber } from './subscribers.js';

export type IngestDoorName = 'unix' | 'udp';

export interface IngestResult {
  door: IngestDoorName;
  subscribers: number;
  sent: number;
  /** Publications the door accepted (its counter on /metrics). */
  published: number;
  /** sent − published: datagrams lost before or at the door (UDP only; the Unix socket answers every line). */
  dropped: number;
  deliveries: number;
  expectedDeliveries: number;
  seconds: number;
  deliveriesPerSecond: number;
  messagesPerSecond: number;
}

const CHANNEL = 'bench:ingest';
const STALL_MS = 3000;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function accepted(server: ServerProcess, door: IngestDoorName): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.apiKey}` } });
  return parseExposition(await res.text()).value('hubbub_ingest_messages_total', { door, outcome: 'accepted' });
}

const line = (i: number) => `{"channel":"${CHANNEL}","data":{"i":${i},"t":${now()}}}`;

/** Writes every line on one connection (waiting on drain), resolves when every reply line is in. */
async function sendUnix(path: string, messages: number): Promise<void> {
  const socket = connect(path);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let replies = 0;
  const done = new Promise<void>((resolve) =>
    socket.on('data', (b: Buffer) => {
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) replies++;
      if (replies >= messages) resolve();
    }),
  );
  for (let i = 0; i < messages; i++) {
    if (!socket.write(`${line(i)}\n`)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await done;
  socket.end();
}

/** Sends every datagram as fast as the socket takes them, in bursts that yield between them. */
async function sendUdp(port: number, messages: number): Promise<void> {
  const socket = createSocket('udp4');
  for (let i = 0; i < messages; i++) {
    await new Promise<void>((resolve, reject) => socket.send(line(i), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }
  socket.close();
}

export async function runIngest(door: IngestDoorName, subscribers: number, messages: number, log: (line: string) => void): Promise<IngestResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hubbub-bench-ingest-'));
  const path = join(dir, 'hubbub.sock');
  const udpPort = await freeUdpPort();
  const args = door === 'unix' ? ['--ingest-unix', path] : ['--ingest-udp', `127.0.0.1:${udpPort}`];
  const server = await startServerProcess([...args, '--history-size', '1000']);
  const tally = new Tally();
  const subs = [];
  try {
    for (let i = 0; i < subscribers; i++) subs.push(await openSubscriber('websocket', { url: server.url, channel: CHANNEL, token: undefined, localAddress: undefined }, tally));
    tally.reset(false, 0);
    const expected = subscribers * messages;
    const started = now();
    await (door === 'unix' ? sendUnix(path, messages) : sendUdp(udpPort, messages));
    // Done when every delivery is in, or when none came for STALL_MS (UDP may have lost some).
    let last = tally.unique;
    let lastChange = now();
    while (tally.unique < expected && now() - lastChange < STALL_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (tally.unique !== last) (last = tally.unique), (lastChange = now());
    }
    const seconds = ((tally.lastAt || now()) - started) / 1000;
    const published = await accepted(server, door);
    const result: IngestResult = {
      door,
      subscribers,
      sent: messages,
      published,
      dropped: messages - published,
      deliveries: tally.unique,
      expectedDeliveries: published * subscribers,
      seconds: Math.round(seconds * 1000) / 1000,
      deliveriesPerSecond: Math.round(tally.unique / seconds),
      messagesPerSecond: Math.round(published / seconds),
    };
    log(`ingest ${door}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    for (const s of subs) s.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function ingestTable(results: IngestResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.door} | ${r.subscribers} | ${r.sent} | ${r.published} | ${r.dropped} | ${r.deliveries} / ${r.expectedDeliveries} | ${r.messagesPerSecond} | ${r.deliveriesPerSecond} |`,
  );
  return [
    '| door | WebSocket subscribers | sent | published | dropped | deliveries / expected | publications/s | deliveries/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
