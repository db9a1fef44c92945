import { z } from 'zod';
import { CHANNEL_MAX_LENGTH, CHANNEL_PATTERN, CHANNEL_RULE, USER_ID_PATTERN } from './channel-names.js';

// The schemas of channel names and user ids, built on the zod-free rules of channel-names.ts.
export {
  CHANNEL_MAX_LENGTH,
  CHANNEL_PATTERN,
  CHANNEL_RULE,
  USER_ID_PATTERN,
  USER_SEPARATOR,
  channelNamespace,
  channelUsers,
  isChannelName,
} from './channel-names.js';

export const ChannelName = z
  .string()
  .min(1)
  .max(CHANNEL_MAX_LENGTH)
  .regex(CHANNEL_PATTERN, { message: `invalid channel name (${CHANNEL_RULE})` })
  .describe(`Channel name: ${CHANNEL_RULE}`);

export type ChannelName = z.infer<typeof ChannelName>;

/** A user id as it may appear after `#` in a channel name. */
export const UserId = z.string().regex(USER_ID_PATTERN, { message: 'user ids are [A-Za-z0-9_.@=-]+' });
