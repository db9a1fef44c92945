// Event names of publications (`channel.bind("create", …)` in websocket-rails): zod-free, so the
// browser client can check a name without the schema code. The alphabet is that of channel names
// minus what marks their parts (`#`, `~`) and plus `:` and `.`, so names like `tweet.create` or
// `chat:message` fit; a name is stored and sent as a JSON string, never as a header or a subject
// token, so nothing else constrains it. 64 characters: a verb or a dotted path, not a payload.
// The length is part of the pattern, so a bad name fails one check and gets one issue.
export const EVENT_NAME_MAX_LENGTH = 64;
export const EVENT_NAME_PATTERN = new RegExp(`^[A-Za-z0-9_.:-]{1,${EVENT_NAME_MAX_LENGTH}}$`);
export const EVENT_NAME_RULE = `1 to ${EVENT_NAME_MAX_LENGTH} characters of A-Z a-z 0-9 _ . : -`;

export function isEventName(value: unknown): value is string {
  return typeof value === 'string' && EVENT_NAME_PATTERN.test(value);
}
