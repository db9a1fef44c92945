// Event names of publications (`channel.bind("create", …)` in websocket-rails): zod-free, so the
// browser client can check a name without the schema code. The alphabet is that of channel names
// minus what marks their parts (`#`, `~`) and plus `:` and `.`, so names like `tweet.create` or
// `chat:message` fit; a name is stored and sent as a JSON string, never as a header or a subject
// token, so nothing else constrains it. 64 characters: a verb or a dotted path, not a payload.
export const EVENT_NAME_MAX_LENGTH = 64;
export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;
export const EVENT_NAME_RULE = '1 to 64 characters of A-Z a-z 0-9 _ . : -';

export function isEventName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= EVENT_NAME_MAX_LENGTH && EVENT_NAME_PATTERN.test(value);
}
