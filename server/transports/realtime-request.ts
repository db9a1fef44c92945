import { type StreamPosition, isChannelName, parseCursor } from '../../contract/index.js';
import { HubbubError } from '../errors.js';

export interface RealtimeRequest {
  channels: string[];
  since: Array<StreamPosition | undefined>;
}

/** Parses the `channels` list and cursor shared by /sse and /poll (see contract/position.ts). */
export function parseRealtimeRequest(channelsParam: string, cursor: string | undefined, maxChannels: number): RealtimeRequest {
  const channels = channelsParam.split(',');
  if (channels.length > maxChannels) {
    throw new HubbubError('too_many_channels', `${channels.length} channels requested, the limit is ${maxChannels}`);
  }
  const bad = channels.filter((c) => !isChannelName(c));
  if (bad.length > 0) {
    throw new HubbubError(
      'invalid_channel',
      undefined,
      bad.map((c) => ({ path: 'query.channels', message: `invalid channel name ${JSON.stringify(c.slice(0, 300))}` })),
    );
  }
  if (new Set(channels).size !== channels.length) {
    throw new HubbubError('bad_request', 'a channel is listed twice', [{ path: 'query.channels', message: 'duplicate channel' }]);
  }
  if (cursor === undefined || cursor === '') return { channels, since: channels.map(() => undefined) };
  const since = parseCursor(cursor, channels.length);
  if (!since) {
    throw new HubbubError('invalid_cursor', `the cursor must have ${channels.length} comma-separated <epoch>:<offset> entries`);
  }
  return { channels, since };
}
