// Channel names: an optional `namespace:` prefix, then a name. The alphabet is kept small on
// purpose: every name must map onto a NATS subject token and fit in a comma-separated query list
// without escaping — except `#`, which marks a user channel and must be sent as %23 in a URL.
//
// User channels (`notifications:#ada`, `dm:#ada~bob`): the part after `#` lists the only users
// who may subscribe, separated by `~`. Not `,` (Centrifugo's choice): our SSE and long-poll
// requests separate channels with commas. `~` is unreserved in URLs and never part of a user id.
//
// Zod-free, so the realtime client checks names without carrying zod; channel.ts builds the schemas on it.
export const CHANNEL_MAX_LENGTH = 255;
const NAMESPACE = '[A-Za-z0-9_-]+';
const NAME = '[A-Za-z0-9_.@=-]';
export const USER_ID_PATTERN = new RegExp(`^${NAME}+$`);
export const USER_SEPARATOR = '~';
export const CHANNEL_PATTERN = new RegExp(`^(?:${NAMESPACE}:)?(?:${NAME}+|${NAME}*#${NAME}+(?:~${NAME}+)*)$`);
export const CHANNEL_RULE =
  'namespace:name or name; namespace is [A-Za-z0-9_-]+, name is [A-Za-z0-9_.@=-]+, optionally followed by #user~user (a user channel), at most 255 characters';

export function isChannelName(value: string): boolean {
  return value.length > 0 && value.length <= CHANNEL_MAX_LENGTH && CHANNEL_PATTERN.test(value);
}

/** The namespace of `chat:lobby` is `chat`; a name without `:` has the namespace `''`. */
export function channelNamespace(channel: string): string {
  const i = channel.indexOf(':');
  return i < 0 ? '' : channel.slice(0, i);
}

/** The users a user channel is limited to (`dm:#ada~bob` → ada, bob); undefined for other channels. */
export function channelUsers(channel: string): string[] | undefined {
  const i = channel.indexOf('#');
  return i < 0 ? undefined : channel.slice(i + 1).split(USER_SEPARATOR);
}
