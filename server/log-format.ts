import type { LoggerOptions } from 'pino';
import pino from 'pino';

// What a log line may carry and how it reads in a terminal. Secrets are kept out in three ways:
// fields that hold one (authorization, cookie, token, apiKey, the config's secrets) are censored by
// pino's `redact`; a query string or a Bearer value inside a message, a URL or an error is masked
// (scrub); and the code logs a route's pattern and path, never a URL with its query.

export const CENSORED = '[Redacted]';

const SECRET_FIELDS = ['authorization', 'cookie', 'token', 'tokens', 'apiKey', 'tokenSecret', 'devTokenSecret', 'secret', 'password'];

/**
 * pino's redact paths: each secret field at the top level and in a `config` object, and the secret
 * headers. Named paths, no `*.` wildcards: a wildcard path made every line about five times slower
 * to write (about 15 µs more per request line, measured).
 */
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `config.${f}`),
  ...['authorization', 'cookie', 'set-cookie', 'x-api-key'].flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`, `res.headers["${h}"]`]),
];

/** `token=…`, `tokens=…`, `api_key=…`, `access_token=…` in a query, `Bearer …`, and a URL's password (nats://user:pass@host). */
const SECRETISH = /(\b(?:token|tokens|access_token|api_?key|apikey|key|secret)=)[^&\s"'#]+|(\bBearer\s+)[^\s"',;]+|(:\/\/[^/\s:@]+:)[^@\s/]+(?=@)/gi;

/** The text with every token-looking query value and Bearer credential masked. */
export function scrub(text: string): string {
  // Most messages have neither: test first, so the common case allocates nothing.
  if (!text.includes('=') && !text.includes('@') && !/bearer/i.test(text)) return text;
  return text.replace(SECRETISH, (_m, query: string | undefined, bearer: string | undefined, user: string | undefined) => `${query ?? bearer ?? user}${CENSORED}`);
}

/** pino's error serializer, with the message and stack scrubbed (an error may quote the URL it failed on). */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? scrub(err) : err;
  const out = pino.stdSerializers.err(err);
  out.message = scrub(out.message);
  if (typeof out.stack === 'string') out.stack = scrub(out.stack);
  return out;
}

const scrubbed = (value: unknown) => (typeof value === 'string' ? scrub(value) : value);

export const REDACTION: Pick<LoggerOptions, 'redact' | 'serializers'> = {
  redact: { paths: REDACT_PATHS, censor: CENSORED },
  serializers: { err: serializeError, url: scrubbed, server: scrubbed },
};

/** Fields the pretty line leaves out: pino's own, and the ones every line of a node shares. */
const NOT_SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'node', 'err']);

function shown(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // Nested objects are rare in our lines; key paths keep the line free of braces.
  return JSON.stringify(value);
}

function flatten(prefix: string, value: unknown, out: string[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(`${prefix}.${k}`, v, out);
  } else if (value !== undefined) out.push(`${prefix}=${shown(value)}`);
}

/**
 * One terminal line per event: `message key=value key=value`, and an error's stack indented below.
 * pino-pretty's default puts each field on a line of its own, which scrolls a busy terminal away.
 */
export function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const parts = [String(log[messageKey] ?? '')];
  for (const [k, v] of Object.entries(log)) if (!NOT_SHOWN.has(k) && k !== messageKey) flatten(k, v, parts);
  const err = log['err'] as { type?: string; message?: string; stack?: string } | string | undefined;
  if (typeof err === 'string') parts.push(`err=${shown(err)}`);
  else if (err !== undefined && err !== null) {
    parts.push(`err=${shown(`${err.type ?? 'Error'}: ${err.message ?? ''}`)}`);
    const stack = err.stack?.split('\n').slice(1).join('\n');
    if (stack) return `${parts.join(' ')}\n${stack}`;
  }
  return parts.join(' ');
}
