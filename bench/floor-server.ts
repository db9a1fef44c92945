// The raw floor the bench measures Hubbub against: node:http and ws, no framework, no validation,
// no auth, no limits. It speaks the part of Hubbub's wire the bench clients use (same frames, same
// publication JSON), so one set of clients measures both and every run carries its own ratios.
//   node --import tsx bench/floor-server.ts --port 0 [--ring 100] [--poll-timeout 25]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { type WebSocket, WebSocketServer } from 'ws';

const { values: opt } = parseArgs({ options: { port: { type: 'string', default: '0' }, ring: { type: 'string', default: '100' }, 'poll-timeout': { type: 'string', default: '25' } } });
const RING = Number(opt.ring);
const EPOCH = 'floor';

interface Poll { res: http.ServerResponse; channel: string; timer: NodeJS.Timeout }
interface Channel { offset: number; ring: string[]; ws: Set<WebSocket>; sse: Set<http.ServerResponse>; polls: Set<Poll> }
const channels = new Map<string, Channel>();
const channel = (name: string): Channel => {
  let c = channels.get(name);
  if (!c) channels.set(name, (c = { offset: 0, ring: [], ws: new Set(), sse: new Set(), polls: new Set() }));
  return c;
};
const subscribed = (name: string, offset: number, recovered: boolean) => `{"channel":${JSON.stringify(name)},"epoch":"${EPOCH}","offset":${offset},"recovered":${recovered}}`;

function answer(p: Poll, c: Channel, from: number, recovered: boolean): void {
  clearTimeout(p.timer);
  c.polls.delete(p);
  // ring[k] holds offset c.offset - ring.length + 1 + k
  const pubs = c.ring.slice(c.ring.length - (c.offset - from));
  const body = `{"cursor":"${EPOCH}:${c.offset}","subscriptions":[${subscribed(p.channel, from, recovered)}],"publications":[${pubs.join(',')}]}`;
  p.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

function publish(name: string, data: unknown): number {
  const c = channel(name);
  const offset = ++c.offset;
  const json = `{"channel":${JSON.stringify(name)},"offset":${offset},"epoch":"${EPOCH}","data":${JSON.stringify(data)},"time":${Date.now()}}`;
  c.ring.push(json);
  if (c.ring.length > RING) c.ring.shift();
  const frame = Buffer.from(`{"type":"publication",${json.slice(1)}`);
  for (const ws of c.ws) ws.send(frame, { binary: false });
  const event = Buffer.from(`id: ${EPOCH}:${offset}\nevent: publication\ndata: ${json}\n\n`);
  for (const res of c.sse) res.write(event);
  for (const p of c.polls) answer(p, c, offset - 1, true);
  return offset;
}

function poll(res: http.ServerResponse, name: string, cursor: string | null): void {
  const c = channel(name);
  const [epoch, at] = (cursor ?? '').split(':');
  const from = Number(at);
  const p: Poll = { res, channel: name, timer: setTimeout(() => answer(p, c, c.offset, true), Number(opt['poll-timeout']) * 1000) };
  if (epoch !== EPOCH || !(from >= c.offset - c.ring.length && from <= c.offset)) return answer(p, c, c.offset, false);
  if (from < c.offset) return answer(p, c, from, true);
  c.polls.add(p);
  res.on('close', () => (clearTimeout(p.timer), c.polls.delete(p)));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor');
  const name = url.searchParams.get('channels') ?? '';
  if (url.pathname === '/poll') return poll(res, name, url.searchParams.get('cursor'));
  if (url.pathname === '/sse') {
    const c = channel(name);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`id: ${EPOCH}:${c.offset}\nevent: subscribed\ndata: ${subscribed(name, c.offset, true)}\n\n`);
    c.sse.add(res);
    res.on('close', () => c.sse.delete(res));
    return;
  }
  let body = '';
  req.setEncoding('utf8').on('data', (s: string) => (body += s));
  req.on('end', () => {
    const msg = JSON.parse(body || '{}') as { channel?: string; channels?: string[]; data?: unknown };
    const results = (msg.channels ?? [msg.channel ?? '']).map((ch) => `{"channel":${JSON.stringify(ch)},"epoch":"${EPOCH}","offset":${publish(ch, msg.data)}}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(url.pathname === '/api/broadcast' ? `{"results":[${results.join(',')}]}` : results[0]);
  });
});

const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  const mine: Channel[] = [];
  ws.on('message', (raw) => {
    const cmd = JSON.parse(raw.toString()) as { id: number; type: string; channel: string };
    if (cmd.type !== 'subscribe') return;
    const c = channel(cmd.channel);
    c.ws.add(ws);
    mine.push(c);
    ws.send(`{"id":${cmd.id},"type":"subscribed",${subscribed(cmd.channel, c.offset, true).slice(1)}`);
  });
  ws.on('close', () => mine.forEach((c) => c.ws.delete(ws)));
});
server.listen(Number(opt.port), '127.0.0.1', () => {
  const address = server.address();
  console.log(`floor listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
});
