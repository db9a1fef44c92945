// One access attempt — subscribe, recover (subscribe from a position) or client publish — on one
// transport, spoken in the raw protocol, and reported as what the client saw: success, or the
// error code (with the HTTP status on SSE/poll, and on WebSocket whether the connect reply or the
// command's reply carried it). A success is only reported as `ok` when it is the right success:
// the subscription starts where it must, a recovery delivers exactly the backlog.
import { ErrorBody, PollResponse, type ServerFrame, SseSubscribedEvent, type StreamPosition, type SubscribeResult, formatPosition } from '../../contract/index.js';
import type { TransportName } from './raw-clients.js';
import type WebSocket from 'ws';
import { readSse } from './sse-reader.js';
import { type RawWs, connectWs } from './ws-client.js';

export type Operation = 'subscribe' | 'recover' | 'publish';

export interface Attempt {
  transport: TransportName;
  operation: Operation;
  channel: string;
  /** Connection token; none: anonymous. */
  token?: string | undefined;
  /** Subscription token for `channel` (subscribe and recover only: a publish carries none). */
  subscriptionToken?: string | undefined;
  /** The channel's last position: a subscribe starts there, a recover starts from `offset 1` of its epoch. */
  current: StreamPosition;
}

export interface Seen {
  /** `ok`, an error code, or a description of an unexpected answer. */
  outcome: string;
  /** HTTP status (SSE, poll, POST /publish). */
  status?: number;
  /** WebSocket: which reply carried the outcome. */
  at?: 'connect' | 'command';
}

/** A recover resumes after offset 1, so offsets 2..current are its backlog. */
export const RECOVER_FROM = 1;
const WAIT_MS = 10_000;

export function attempt(baseUrl: string, a: Attempt): Promise<Seen> {
  if (a.transport === 'websocket') return viaWebSocket(baseUrl, a);
  if (a.operation === 'publish') return viaPublishEndpoint(baseUrl, a);
  return a.transport === 'sse' ? viaSse(baseUrl, a) : viaPoll(baseUrl, a);
}

const backlog = (a: Attempt) => Array.from({ length: a.current.offset - RECOVER_FROM }, (_, i) => RECOVER_FROM + 1 + i);
const since = (a: Attempt): StreamPosition => ({ epoch: a.current.epoch, offset: RECOVER_FROM });

/** Checks a subscribe result and the publications it brought; `ok` or what was wrong. */
function judgeSubscription(a: Attempt, result: { channel: string; epoch: string; offset: number; recovered: boolean }, offsets: number[]): string {
  const recover = a.operation === 'recover';
  const got = { channel: result.channel, epoch: result.epoch, offset: result.offset, recovered: result.recovered, offsets };
  const want = { channel: a.channel, epoch: a.current.epoch, offset: recover ? RECOVER_FROM : a.current.offset, recovered: recover, offsets: recover ? backlog(a) : [] };
  return JSON.stringify(got) === JSON.stringify(want) ? 'ok' : `subscribed ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
}

async function viaWebSocket(baseUrl: string, a: Attempt): Promise<Seen> {
  const peer = await connectWs(baseUrl.replace('http', 'ws') + '/ws');
  try {
    if (a.token !== undefined) {
      peer.send({ id: 1, type: 'connect', token: a.token });
      const reply = await replyTo(peer, 1);
      if (reply.type === 'error') return { outcome: reply.code, at: 'connect' };
      if (reply.type !== 'connected') return { outcome: `connect answered ${JSON.stringify(reply)}`, at: 'connect' };
    }
    if (a.operation === 'publish') {
      peer.send({ id: 2, type: 'publish', channel: a.channel, data: { probe: a.transport } });
      const reply = await replyTo(peer, 2);
      if (reply.type === 'error') return { outcome: reply.code, at: 'command' };
      return { outcome: reply.type === 'published' && reply.channel === a.channel ? 'ok' : `publish answered ${JSON.stringify(reply)}`, at: 'command' };
    }
    peer.send({
      id: 2,
      type: 'subscribe',
      channel: a.channel,
      ...(a.operation === 'recover' ? { since: since(a) } : {}),
      ...(a.subscriptionToken === undefined ? {} : { token: a.subscriptionToken }),
    });
    const reply = await replyTo(peer, 2);
    if (reply.type === 'error') return { outcome: reply.code, at: 'command' };
    if (reply.type !== 'subscribed') return { outcome: `subscribe answered ${JSON.stringify(reply)}`, at: 'command' };
    const offsets = () => peer.frames.flatMap((f) => (f.type === 'publication' && f.channel === a.channel ? [f.offset] : []));
    if (a.operation === 'recover') await until(() => offsets().length >= backlog(a).length, peer.ws, `the backlog of ${a.channel}`);
    return { outcome: judgeSubscription(a, reply, offsets()), at: 'command' };
  } finally {
    await peer.close();
  }
}

/** The reply carrying command `id`; a close first is reported as the outcome. */
function replyTo(peer: RawWs, id: number): Promise<ServerFrame | { type: 'error'; code: string }> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const hit = peer.frames.find((f) => 'id' in f && f.id === id);
      if (hit) finish(() => resolve(hit));
    };
    const onClose = (code: number) => finish(() => resolve({ type: 'error', code: `closed ${code}` }));
    const timer = setTimeout(() => finish(() => reject(new Error(`no reply to command ${id} in ${WAIT_MS} ms: ${JSON.stringify(peer.frames)}`))), WAIT_MS);
    const finish = (then: () => void) => {
      clearTimeout(timer);
      peer.ws.off('message', check);
      peer.ws.off('close', onClose);
      then();
    };
    // Registered after the peer's own handler, so `frames` already holds the new frame.
    peer.ws.on('message', check);
    peer.ws.on('close', onClose);
    check();
  });
}

/** Resolves when `done()` holds, checked on every frame of `ws`; rejects after WAIT_MS. */
function until(done: () => boolean, ws: WebSocket, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!done()) return;
      clearTimeout(timer);
      ws.off('message', check);
      resolve();
    };
    const timer = setTimeout(() => {
      ws.off('message', check);
      reject(new Error(`timed out waiting for ${what}`));
    }, WAIT_MS);
    ws.on('message', check);
    check();
  });
}

async function errorOf(res: Response): Promise<Seen> {
  const body = ErrorBody.parse(await res.json());
  return { outcome: body.code, status: res.status };
}

/** SSE carries the connection token in the `token` query parameter, as a native EventSource must. */
async function viaSse(baseUrl: string, a: Attempt): Promise<Seen> {
  const params = realtimeParams(a);
  if (a.token !== undefined) params.set('token', a.token);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), WAIT_MS);
  try {
    const res = await fetch(`${baseUrl}/sse?${params}`, { signal: abort.signal });
    if (res.status !== 200) return await errorOf(res);
    let result: SubscribeResult | undefined;
    const offsets: number[] = [];
    for await (const ev of readSse(res.body!)) {
      if (ev.event === 'subscribed') result = SseSubscribedEvent.parse(JSON.parse(ev.data));
      else if (ev.event === 'publication') offsets.push((JSON.parse(ev.data) as { offset: number }).offset);
      else if (ev.event === 'disconnect') return { outcome: `disconnect event ${ev.data}`, status: 200 };
      if (result && offsets.length >= (a.operation === 'recover' ? backlog(a).length : 0)) break;
    }
    if (!result) return { outcome: 'the stream ended without a subscribed event', status: 200 };
    return { outcome: judgeSubscription(a, result, offsets), status: res.status };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** Long-poll carries the connection token in the Authorization header, as the client library does. */
async function viaPoll(baseUrl: string, a: Attempt): Promise<Seen> {
  const params = realtimeParams(a);
  // Nothing new for a subscribe from now: answer at once rather than wait.
  params.set('timeout', '0');
  const res = await fetch(`${baseUrl}/poll?${params}`, { headers: bearer(a.token), signal: AbortSignal.timeout(WAIT_MS) });
  if (res.status !== 200) return errorOf(res);
  const body = PollResponse.parse(await res.json());
  const [result] = body.subscriptions;
  if (!result || body.subscriptions.length !== 1) return { outcome: `poll answered ${JSON.stringify(body)}`, status: 200 };
  return { outcome: judgeSubscription(a, result, body.publications.map((p) => p.offset)), status: res.status };
}

function realtimeParams(a: Attempt): URLSearchParams {
  const params = new URLSearchParams({ channels: a.channel });
  if (a.subscriptionToken !== undefined) params.set('tokens', a.subscriptionToken);
  if (a.operation === 'recover') params.set('cursor', formatPosition(since(a)));
  return params;
}

const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });

/** POST /publish: on the SSE column with the token in the query, on the poll column in the header (both doors). */
async function viaPublishEndpoint(baseUrl: string, a: Attempt): Promise<Seen> {
  const query = a.token !== undefined && a.transport === 'sse' ? `?${new URLSearchParams({ token: a.token })}` : '';
  const res = await fetch(`${baseUrl}/publish${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(a.transport === 'poll' ? bearer(a.token) : {}) },
    body: JSON.stringify({ channel: a.channel, data: { probe: a.transport } }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  if (res.status !== 200) return errorOf(res);
  const body = (await res.json()) as { channel?: unknown };
  return { outcome: body.channel === a.channel ? 'ok' : `publish answered ${JSON.stringify(body)}`, status: 200 };
}
