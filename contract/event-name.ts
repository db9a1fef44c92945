// Event names of publications (`channel.bind("create", …)` in websocket-rails): zod-free, so code
// without the schemas (the NATS codec, a browser bundle) can check a name. Letters, digits and
// `_ . -` as in channel names, plus `:`, so names like `tweet.create` or `chat:typing` fit. A name is
// stored and sent as a JSON string, never as a header or a subject token, so nothing else constrains
// it. 64 characters: a verb or a dotted path, not a payload. The length is part of the pattern, so a
// bad name fails one check and gets one issue.
export const EVENT_NAME_MAX_LENGTH = 64;
export const EVENT_NAME_PATTERN = new RegExp(`^[A-Za-z0-9_.:-]{1,${EVENT_NAME_MAX_LENGTH}}$`);
export const EVENT_NAME_RULE = `1 to ${EVENT_NAME_MAX_LENGTH} characters of A-Z a-z 0-9 _ . : -`;

export function isEventName(value: unknown): value is string {
  return typeof value === 'string' && EVENT_NAME_PATTERN.test(value);
}
