import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { DISCONNECT_TABLE, formatCursor, parseCursor, type Publication, type StreamPosition, type SubscribeResult } from '../../contract/index.js';
import type { TransportName } from '../../client/index.js';
import { FakeAuth, bearer, errorFrame, refuse, type WsCommand, type WsSession } from './fake-auth.js';

/**
 * A fake Hubbub peer speaking the wire protocol (WebSocket, SSE, long-poll), for client unit tests:
 * it lets a test cut connections, refuse recoveries and inject gaps that a real server would not.
 */

interface ChannelLog {
  epoch: string;
  pubs: Publication[];
}
interface Stream {
  send(pub: Publication): void;
}
type Recovery = { result: SubscribeResult; backlog: Publication[] };
type UserCommands = { subscribe(channel: string): void; unsubscribe(channel: string): void };

export class FakePeer {
  readonly channels = new Map<string, ChannelLog>();
  readonly streams = new Map<string, Set<Stream>>();
  /** Every request/command seen, for assertions on what the client sent. */
  readonly log: Array<{
    transport: TransportName;
    channels: string[];
    since: Array<StreamPosition | undefined>;
    lastEventId?: string;
    /** SSE/poll: the Authorization header, the `token` and `tokens` query parameters as sent. */
    authorization?: string;
    token?: string;
    tokens?: string;
  }> = [];
  /** Token checks and rate limits; by default every token that is not expired is accepted. */
  readonly auth = new FakeAuth();
  /** POST /publish requests: the Authorization header and the JSON body. */
  readonly httpPublishes: Array<{ authorization?: string; body: unknown }> = [];
  readonly wsFrames: Array<Record<string, unknown>> = [];
  readonly refuse = new Set<TransportName>();
  readonly attempts: TransportName[] = [];
  /** On the next recovery, also resend this many already-delivered publications (a sloppy server): the client must drop them. */
  overlap = 0;
  /** Skip live delivery of the next publication of these channels (a lost frame): the client must notice the gap. */
  readonly skipNext = new Set<string>();
  private readonly kickers = new Set<(code: number) => void>();
  private readonly userCommands = new Set<UserCommands>();
  private readonly sockets = new Set<Socket>();
  private epochSeq = 0;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
  ) {}

  /** WebSocket subscribe commands for these channels get an error reply (`times` of them). */
  readonly refuseChannel = new Map<string, { code: string; retryable: boolean; times: number }>();
  /**
   * The `connected` frame's and event's pingInterval. WebSocket: ms between the client's pings, 0 for
   * none. SSE: the ms the client expects between server ping events (sent only by `pingSse()`), 0
   * leaving the client on its default.
   */
  pingInterval = 0;
  answerPings = true;
  /** false: WebSocket publish commands get no reply (a reply lost with the connection). */
  answerPublishes = true;
  private readonly sseStreams = new Set<ServerResponse>();
  private clientSeq = 0;

  static async start(port = 0): Promise<FakePeer> {
    const server = createServer();
    const peer = new FakePeer(server, new WebSocketServer({ noServer: true }));
    server.on('request', (req, res) => peer.http(req, res));
    server.on('upgrade', (req, socket, head) => peer.upgrade(req, socket as Socket, head));
    server.on('connection', (s) => {
      peer.sockets.add(s);
      s.on('close', () => peer.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return peer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  channel(name: string): ChannelLog {
    let c = this.channels.get(name);
    if (!c) this.channels.set(name, (c = { epoch: `e${++this.epochSeq}`, pubs: [] }));
    return c;
  }

  publish(channel: string, data: unknown, publisher?: Publication['publisher']): Publication {
    const c = this.channel(channel);
    const pub: Publication = { channel, epoch: c.epoch, offset: c.pubs.length + 1, data: data as Publication['data'], time: Date.now() };
    if (publisher) pub.publisher = publisher;
    c.pubs.push(pub);
    if (this.skipNext.delete(channel)) return pub;
    for (const s of [...(this.streams.get(channel) ?? [])]) s.send(pub);
    return pub;
  }

  /** History lost: a new epoch, offsets restart. */
  resetEpoch(channel: string): void {
    this.channels.set(channel, { epoch: `e${++this.epochSeq}`, pubs: [] });
  }

  /** SSE streams the peer has not seen close: a stream the client abandoned is gone from here. */
  get openSseStreams(): number {
    return this.sseStreams.size;
  }

  /** One `ping` event on every open SSE stream, as the server's heartbeat. */
  pingSse(): void {
    for (const res of this.sseStreams) res.write('event: ping\ndata: {}\n\n');
  }

  /** Ends every connection the way each transport does: close code, SSE disconnect event, poll error. */
  kick(code: number): void {
    for (const k of [...this.kickers]) k(code);
  }

  recover(channel: string, since: StreamPosition | undefined): Recovery {
    const c = this.channel(channel);
    const current = { channel, epoch: c.epoch, offset: c.pubs.length };
    if (!since || since.epoch !== c.epoch || since.offset > c.pubs.length) return { result: { ...current, recovered: false }, backlog: [] };
    const from = Math.max(0, since.offset - this.overlap);
    this.overlap = 0;
    return { result: { channel, epoch: c.epoch, offset: since.offset, recovered: true }, backlog: c.pubs.slice(from) };
  }

  private watch(channel: string, s: Stream): () => void {
    let set = this.streams.get(channel);
    if (!set) this.streams.set(channel, (set = new Set()));
    set.add(s);
    return () => set.delete(s);
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.attempts.push('websocket');
    if (this.refuse.has('websocket') || !req.url?.startsWith('/ws')) return void socket.destroy();
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wsConnection(ws));
  }

  private wsConnection(ws: WebSocket): void {
    const subs = new Map<string, () => void>();
    const send = (f: object) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(f));
    const kicker = (code: number) => ws.close(code, 'kicked');
    // `id` undefined: the server subscribes on its own (token channels, the server API) and says so without an id.
    const subscribe = (channel: string, since: StreamPosition | undefined, id?: number) => {
      this.log.push({ transport: 'websocket', channels: [channel], since: [since] });
      const { result, backlog } = this.recover(channel, since);
      send({ ...(id === undefined ? {} : { id }), type: 'subscribed', ...result });
      for (const p of backlog) send({ type: 'publication', ...p });
      subs.set(channel, this.watch(channel, { send: (p) => send({ type: 'publication', ...p }) }));
    };
    const unsubscribe = (channel: string, id?: number) => {
      subs.get(channel)?.();
      subs.delete(channel);
      send({ ...(id === undefined ? {} : { id }), type: 'unsubscribed', channel });
    };
    const userCommands: UserCommands = {
      subscribe: (channel) => !subs.has(channel) && session.connected && subscribe(channel, undefined),
      unsubscribe: (channel) => subs.has(channel) && unsubscribe(channel),
    };
    this.kickers.add(kicker);
    this.userCommands.add(userCommands);
    ws.on('close', () => {
      this.kickers.delete(kicker);
      this.userCommands.delete(userCommands);
      for (const off of subs.values()) off();
    });
    const greeting = { type: 'connected', client: 'c1', node: 'fake', version: '1', pingInterval: this.pingInterval };
    send(greeting);
    const session: WsSession = { token: undefined, connected: false };
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as WsCommand;
      this.wsFrames.push(f);
      // Stricter than the server (which waits, then closes with 4005): a clear, terminal failure in a test.
      if (!session.connected && f.type !== 'connect') return ws.close(DISCONNECT_TABLE.forbidden.code, 'connect first');
      const reply = this.auth.tokenCommand(f, session, greeting);
      if (reply && f.type === 'connect' && reply.type === 'connected') {
        // As the server: the reply names the token's channels, then each is subscribed from its position in `connect`.
        const channels = this.auth.channelsOf(f.token);
        send({ ...reply, channels });
        for (const c of channels) subscribe(c, f.positions?.[c]);
        return;
      }
      if (reply) return send(reply);
      if (f.type === 'publish') {
        if (!this.answerPublishes) return;
        const refused = this.auth.publish(session.token, f.channel);
        if (refused) return send(errorFrame(refused, f.id));
        const p = this.publish(f.channel, f.data, { user: this.auth.user(session.token), client: 'c1' });
        return send({ id: f.id, type: 'published', channel: p.channel, epoch: p.epoch, offset: p.offset });
      }
      if (f.type === 'ping') return this.answerPings && send({ id: f.id, type: 'pong' });
      if (f.type === 'unsubscribe') return unsubscribe(f.channel, f.id);
      if (subs.has(f.channel)) return send({ type: 'error', id: f.id, code: 'already_subscribed', message: 'x', retryable: false });
      const refusal = this.refuseChannel.get(f.channel);
      if (refusal && refusal.times-- > 0) return send({ type: 'error', id: f.id, code: refusal.code, message: 'refused', retryable: refusal.retryable });
      const subRefused = this.auth.subscription(f.channel, f.token);
      if (subRefused) return send(errorFrame(subRefused, f.id));
      subscribe(f.channel, f.since, f.id);
    });
  }

  /** The server API's user subscribe/unsubscribe: every open WebSocket gets an id-less subscribed/unsubscribed. */
  userSubscribe(channel: string): void {
    for (const c of this.userCommands) c.subscribe(channel);
  }

  userUnsubscribe(channel: string): void {
    for (const c of this.userCommands) c.unsubscribe(channel);
  }

  private http(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/publish' && req.method === 'POST') return void this.httpPublish(req, res);
    const transport = u.pathname === '/sse' ? 'sse' : u.pathname === '/poll' ? 'poll' : undefined;
    if (!transport) return json(res, 404, { code: 'not_found', message: 'no', retryable: false });
    this.attempts.push(transport);
    if (this.refuse.has(transport)) return json(res, 404, { code: 'not_found', message: 'no', retryable: false });
    const sent = { authorization: req.headers.authorization, token: u.searchParams.get('token') ?? undefined, tokens: u.searchParams.get('tokens') ?? undefined };
    // As the server: the channels asked for, then the token's channels not among them; one cursor entry each.
    const asked = u.searchParams.get('channels')?.split(',') ?? [];
    const channels = [...asked, ...this.auth.channelsOf(bearer(sent.authorization) ?? sent.token).filter((c) => !asked.includes(c))];
    const lastEventId = req.headers['last-event-id'] as string | undefined;
    const cursor = lastEventId || u.searchParams.get('cursor') || '';
    const since = cursor === '' ? channels.map(() => undefined) : parseCursor(cursor, channels.length);
    if (!since) return json(res, 400, { code: 'invalid_cursor', message: cursor, retryable: false });
    this.log.push({ transport, channels, since, ...(lastEventId ? { lastEventId } : {}), ...definedOnly(sent) });
    if (this.auth.limited()) return refuse(res, 'rate_limited', this.auth.rateLimit.retryAfter);
    const c = this.auth.connection(bearer(sent.authorization) ?? sent.token);
    if ('refused' in c) return refuse(res, c.refused);
    const subTokens = sent.tokens?.split(',') ?? [];
    for (const [i, channel] of channels.entries()) {
      const refused = this.auth.subscription(channel, subTokens[i] || undefined);
      if (refused) return refuse(res, refused);
    }
    if (transport === 'sse') this.sse(res, channels, since);
    else this.poll(req, res, channels, since);
  }

  private sse(res: ServerResponse, channels: string[], since: Array<StreamPosition | undefined>): void {
    const positions: Array<StreamPosition | undefined> = channels.map(() => undefined);
    const offs: Array<() => void> = [];
    const end = () => {
      this.kickers.delete(kicker);
      this.sseStreams.delete(res);
      for (const off of offs) off();
    };
    const kicker = (code: number) => {
      const name = Object.entries(DISCONNECT_TABLE).find(([, row]) => row.code === code)?.[0] ?? 'shutdown';
      res.end(`event: disconnect\ndata: ${JSON.stringify({ code, name, reason: 'kicked', reconnect: code < 4500 })}\n\n`);
      end();
    };
    this.kickers.add(kicker);
    this.sseStreams.add(res);
    res.on('close', end);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const connected = { client: `sse-${++this.clientSeq}`, node: 'fake', version: '1', pingInterval: this.pingInterval };
    res.write(`retry: 1000\n\nevent: connected\ndata: ${JSON.stringify(connected)}\n\n`);
    const event = (i: number, type: string, data: SubscribeResult | Publication) => {
      positions[i] = { epoch: data.epoch, offset: data.offset };
      res.write(`id: ${formatCursor(positions)}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    channels.forEach((channel, i) => {
      const { result, backlog } = this.recover(channel, since[i]);
      event(i, 'subscribed', result);
      for (const p of backlog) event(i, 'publication', p);
      offs.push(this.watch(channel, { send: (p) => event(i, 'publication', p) }));
    });
  }

  private poll(req: IncomingMessage, res: ServerResponse, channels: string[], since: Array<StreamPosition | undefined>): void {
    const answer = () => {
      const rs = channels.map((c, i) => this.recover(c, since[i]));
      const pubs = rs.flatMap((r) => r.backlog);
      const positions = rs.map((r) => r.backlog.at(-1) ?? r.result);
      return { cursor: formatCursor(positions), subscriptions: rs.map((r) => r.result), publications: pubs, news: pubs.length > 0 || rs.some((r) => !r.result.recovered) };
    };
    const first = answer();
    if (first.news) return json(res, 200, { ...first, news: undefined });
    const offs: Array<() => void> = [];
    const done = () => {
      this.kickers.delete(kicker);
      for (const off of offs) off();
    };
    const kicker = (code: number) => {
      done();
      // A poll waiting when its token expires is answered 401 token_expired, as the next request would be.
      if (code === DISCONNECT_TABLE.token_expired.code) return refuse(res, 'token_expired');
      json(res, code < 4500 ? 503 : 400, { code: code < 4500 ? 'unavailable' : 'bad_request', message: 'kicked', retryable: code < 4500 });
    };
    this.kickers.add(kicker);
    req.on('close', done);
    // Wake on the next publication of any channel; answer on the next turn so a burst leaves together.
    const wake = { send: () => void setImmediate(() => (done(), !res.writableEnded && json(res, 200, { ...answer(), news: undefined }))) };
    for (const c of channels) offs.push(this.watch(c, wake));
  }

  private async httpPublish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const body = JSON.parse(text) as { channel: string; data: unknown };
    this.httpPublishes.push({ ...definedOnly({ authorization: req.headers.authorization }), body });
    if (this.auth.limited()) return refuse(res, 'rate_limited', this.auth.rateLimit.retryAfter);
    const token = bearer(req.headers.authorization);
    const refused = this.auth.publish(token, body.channel);
    if (refused) return refuse(res, refused);
    const p = this.publish(body.channel, body.data, { user: this.auth.user(token), client: 'http' });
    json(res, 200, { channel: p.channel, epoch: p.epoch, offset: p.offset });
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    for (const ws of this.wss.clients) ws.terminate();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
