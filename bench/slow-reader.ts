// npx tsx bench/slow-reader.ts [--rate 262144]   (bytes per second)
// A WebSocket subscriber that reads at a fixed rate while publications outrun it: prints the close
// code it gets, the ms between the server's 4001 decision and the client seeing the close, and the
// bytes it read in between (what sat ahead of the close frame). A benchmark, not a test.
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { openNetWs } from '../test/support/net-ws.js';
import { startServer } from '../test/support/server.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: String(256 * 1024) } } });
const rate = Number(values.rate);

// The moment the server decides to close with 4001 is its call to ws's close().
let decidedAt = 0;
const close = WebSocket.prototype.close;
WebSocket.prototype.close = function (this: WebSocket, code?: number, reason?: string | Buffer) {
  if (code === 4001 && !decidedAt) decidedAt = performance.now();
  return close.call(this, code, reason);
};

const srv = await startServer({ HUBBUB_MAX_MESSAGE_BYTES: String(1 << 20) });
const peer = await openNetWs(srv.wsUrl);
peer.send({ id: 1, type: 'subscribe', channel: 'firehose' });
while (!peer.frames.some((f) => f.type === 'subscribed')) await new Promise((r) => setTimeout(r, 5));
const started = performance.now();
let read = 0;
let readAtDecision = -1;
peer.socket.on('data', (chunk: Buffer) => {
  read += chunk.length;
  if (decidedAt && readAtDecision < 0) readAtDecision = read;
  const ahead = read / rate - (performance.now() - started) / 1000;
  if (ahead > 0) {
    peer.socket.pause();
    setTimeout(() => peer.socket.resume(), ahead * 1000);
  }
});
let code: number | undefined;
const closed = peer.closeCode.then((c) => (code = c));
const big = 'x'.repeat(256 * 1024);
while (code === undefined && !decidedAt) await srv.publish('firehose', big);
await closed;
console.log({
  rateKiBps: rate / 1024,
  closeCode: code,
  msFromDecisionToClose: Math.round(performance.now() - decidedAt),
  bytesReadAfterDecision: read - Math.max(readAtDecision, 0),
});
await srv.close();
process.exit(0);
