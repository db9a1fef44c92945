// npx tsx bench/never-reading.ts [--clients 200]
// SSE clients that send the GET and never read while publications fill their buffers: prints the
// kernel's TCP memory (/proc/net/sockstat, Linux) and the server's connection count every 2 s.
// The ping interval is 5 s: they should be gone within three intervals. A benchmark, not a test.
import { readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { parseArgs } from 'node:util';
import { InfoResponse } from '../contract/index.js';
import { startServer } from '../test/support/server.js';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '200' } } });
const clients = Number(values.clients);
const tcpMemMB = () => (Number(/TCP:.* mem (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'))![1]) * 4096) / 2 ** 20;

const srv = await startServer({ HUBBUB_PING_INTERVAL: '5', HUBBUB_MAX_MESSAGE_BYTES: String(1 << 20) });
const base = tcpMemMB();
const url = new URL(srv.url);
const sockets: Socket[] = [];
for (let i = 0; i < clients; i++) {
  const s = connect(Number(url.port), url.hostname);
  s.pause();
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  s.write(`GET /sse?channels=c HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  sockets.push(s);
}
while (srv.app.hub.subscriptionCount < clients) await new Promise((r) => setTimeout(r, 10));
const t0 = performance.now();
const big = 'x'.repeat(256 * 1024);
for (let i = 0; i < 40; i++) {
  await srv.publish('c', big);
  await new Promise((r) => setTimeout(r, 50));
}
for (let i = 0; i <= 12; i++) {
  const connections = InfoResponse.parse(await (await srv.api('/api/info')).json()).connections;
  const t = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`t=${t}s kernel TCP memory +${(tcpMemMB() - base).toFixed(0)} MB, connections ${connections}`);
  await new Promise((r) => setTimeout(r, 2000));
}
for (const s of sockets) s.destroy();
await srv.close();
process.exit(0);
