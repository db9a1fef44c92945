import { type StreamPosition, isChannelName, parseCursor } from '../../contract/index.js';
import { HubbubError } from '../errors.js';
import type { Exchange } from '../http/adapter.js';
import type { Session } from '../session/session.js';
import type { TransportEnv } from './transport.js';

// The request of /sse and /poll (see contract/frames.ts RealtimeQuery): the channels asked for in
// the query, then the channels the connection token lists, one cursor entry and one subscription
// token entry per channel in that order. Everything is checked here — syntax, identity, every
// channel's permission — before a stream starts or a poll waits, so a refusal is a plain HTTP error.

export interface RealtimeRequest {
  session: Session;
  channels: string[];
  since: Array<StreamPosition | undefined>;
}

export interface RealtimeQueryInput {
  channels?: string | undefined;
  cursor?: string | undefined;
  token?: string | undefined;
  tokens?: string | undefined;
}

function channelList(param: string | undefined): string[] {
  if (param === undefined || param === '') return [];
  const channels = param.split(',');
  if (!channels.every(isChannelName)) {
    const bad = channels.filter((c) => !isChannelName(c));
    throw new HubbubError(
      'invalid_channel',
      undefined,
      bad.slice(0, 10).map((c) => ({ path: 'query.channels', message: `invalid channel name ${JSON.stringify(c.slice(0, 300))}` })),
    );
  }
  if (channels.length > 1 && new Set(channels).size !== channels.length) {
    throw new HubbubError('bad_request', 'a channel is listed twice', [{ path: 'query.channels', message: 'duplicate channel' }]);
  }
  return channels;
}

/** Opens the session and authorizes every channel; the caller must close() the session when done. */
export async function openRealtimeRequest(
  env: TransportEnv,
  exchange: Pick<Exchange, 'req'>,
  how: { transport: string; connection: boolean },
  query: RealtimeQueryInput,
  cursor: string | undefined,
): Promise<RealtimeRequest> {
  const asked = channelList(query.channels);
  const max = env.config.maxChannels;
  if (asked.length > max) throw new HubbubError('too_many_channels', `${asked.length} channels requested, the limit is ${max}`);
  const session = await env.sessions.open(exchange.req, { ...how, queryToken: query.token, longLived: true });
  try {
    const listed = session.identity.channels;
    const channels = listed.length === 0 ? asked : [...asked, ...listed.filter((c) => !asked.includes(c))];
    if (channels.length === 0) throw new HubbubError('bad_request', 'no channels: list them in channels, or in the token', [{ path: 'query.channels', message: 'required' }]);
    if (channels.length > max) throw new HubbubError('too_many_channels', `${channels.length} channels with the token's, the limit is ${max}`);
    const tokens = query.tokens === undefined || query.tokens === '' ? [] : query.tokens.split(',');
    if (tokens.length > channels.length) {
      throw new HubbubError('bad_request', 'more subscription tokens than channels', [{ path: 'query.tokens', message: 'one entry per channel' }]);
    }
    for (let i = 0; i < channels.length; i++) {
      const token = tokens[i] || undefined;
      // Without a subscription token the session decides at once: no promise per channel.
      if (token === undefined) session.assertMaySubscribe(channels[i]!);
      else await session.authorizeSubscribe(channels[i]!, token);
    }
    let since: Array<StreamPosition | undefined> = channels.map(() => undefined);
    if (cursor !== undefined && cursor !== '') {
      const parsed = parseCursor(cursor, channels.length);
      if (!parsed) throw new HubbubError('invalid_cursor', `the cursor must have ${channels.length} comma-separated <epoch>:<offset> entries`);
      since = parsed;
    }
    return { session, channels, since };
  } catch (err) {
    session.close();
    throw err;
  }
}
