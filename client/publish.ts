import type { TokenKeeper } from './auth.js';
import { HubbubError } from './errors.js';
import type { PublishOptions, PublishResult } from './publisher.js';
import type { FetchLike, PublishCommand } from './types.js';
import { parseJson, retryAfterMs } from './wire.js';

// Client publish over HTTP (POST /publish), for when no WebSocket is open: SSE and long-poll
// clients, and clients that have not connected yet. Plain fetch, not the ts-rest client, so the
// browser bundle of the realtime client carries no router or schema code.

export type { PublishOptions, PublishResult };

export interface HttpPublishContext {
  baseUrl: string;
  fetch: FetchLike | undefined;
  now: () => number;
  /** The connection token; anonymous without one (the server decides whether that may publish). */
  auth: TokenKeeper;
}

/** POST /publish with the connection token; after token_expired, once more with a fresh token from getToken. */
export async function publishOverHttp(ctx: HttpPublishContext, command: PublishCommand): Promise<PublishResult> {
  try {
    return await post(ctx, command, await ctx.auth.current());
  } catch (err) {
    if (!(err instanceof HubbubError) || err.code !== 'token_expired' || !ctx.auth.canRefresh) throw err;
    ctx.auth.stale = true;
    return post(ctx, command, await ctx.auth.fetch());
  }
}

async function post(ctx: HttpPublishContext, command: PublishCommand, token: string | undefined): Promise<PublishResult> {
  if (!ctx.fetch) throw new HubbubError('unavailable', 'no fetch in this environment', { status: 0, retryable: false });
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let res: Response;
  let text: string;
  try {
    res = await ctx.fetch(`${ctx.baseUrl}/publish`, { method: 'POST', headers, body: JSON.stringify(command) });
    text = await res.text();
  } catch (cause) {
    throw new HubbubError('unavailable', `POST /publish failed: ${String(cause)}`, { status: 0, retryable: true, cause });
  }
  const body = parseJson(text);
  if (res.status < 200 || res.status > 299) {
    throw HubbubError.fromResponse(res.status, body ?? text, { retryAfter: retryAfterMs(res.headers.get('retry-after'), ctx.now()) });
  }
  const r = body as Partial<PublishResult> | undefined;
  if (typeof r?.channel !== 'string' || typeof r.epoch !== 'string' || typeof r.offset !== 'number') {
    throw new HubbubError('internal', `malformed publish result: ${text.slice(0, 200)}`, { status: res.status, retryable: false });
  }
  return { channel: r.channel, epoch: r.epoch, offset: r.offset };
}
