import { z } from 'zod';

/**
 * Channel names: an optional `namespace:` prefix, then a name.
 * The alphabet is kept small on purpose: every name must map onto a NATS subject token
 * (no spaces, no `*`, no `>`) and fit in a comma-separated query list without escaping.
 */
export const CHANNEL_MAX_LENGTH = 255;
export const CHANNEL_PATTERN = /^(?:[A-Za-z0-9_-]+:)?[A-Za-z0-9_.@=-]+$/;
export const CHANNEL_RULE =
  'namespace:name or name; namespace is [A-Za-z0-9_-]+, name is [A-Za-z0-9_.@=-]+, at most 255 characters';

export const ChannelName = z
  .string()
  .min(1)
  .max(CHANNEL_MAX_LENGTH)
  .regex(CHANNEL_PATTERN, { message: `invalid channel name (${CHANNEL_RULE})` })
  .describe(`Channel name: ${CHANNEL_RULE}`);

export type ChannelName = z.infer<typeof ChannelName>;

export function isChannelName(value: string): boolean {
  return value.length > 0 && value.length <= CHANNEL_MAX_LENGTH && CHANNEL_PATTERN.test(value);
}

/** The namespace of `chat:lobby` is `chat`; a name without `:` has the namespace `''`. */
export function channelNamespace(channel: string): string {
  const i = channel.indexOf(':');
  return i < 0 ? '' : channel.slice(0, i);
}
