// Input generators shared by the fuzz suites: the strings, names, positions, JSON texts and
// HTTP parts a careless or hostile client could send. JSON is generated as text, not as values,
// so it can carry what JSON.stringify never writes: duplicated keys, `__proto__` keys, numbers
// beyond float range (1e400), 30-digit integers, escaped lone surrogates, deep nesting.
import fc from 'fast-check';
import { CHANNEL_MAX_LENGTH } from '../../contract/index.js';
import { TEST_API_KEY } from '../support/server.js';

/* ---------- strings ---------- */

const ODD_CHARS = [
  '\u0000', '\u0007', '\t', '\n', '\r', '\u007f', '\u0085', '\u00a0', '\u00e9', '\u00ff', '\u0130', '\u0301', '\u200b', '\u200e',
  '\u202e', '\u2028', '\ufeff', '\uffff', '\ud800', '\udfff', '\u{1f600}', '\u{10ffff}', '%', ',', ':', ';', '"', "'", '\\', '/',
  '?', '#', '&', '=', '+', ' ', '*', '>', '.', '@', '-', '_', '{', '[',
];

/** One character: ASCII most often, then characters that break parsers, then any code point. */
export const oddChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.constantFrom(...ODD_CHARS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

export const oddString = (maxLength = 24): fc.Arbitrary<string> => fc.string({ unit: oddChar, maxLength });

/** Very long values, built by repetition so they shrink by length. */
export const longString = (min: number, max: number): fc.Arbitrary<string> =>
  fc.tuple(fc.integer({ min, max }), fc.constantFrom('x', '\u00e9', '\u{1f600}', 'a,')).map(([n, c]) => c.repeat(n));

/* ---------- channel names ---------- */

const NAME_CHARS = 'abcxyzABZ0129_.@=-'.split('');
const NAMESPACE_CHARS = 'abcxyzAZ09_-'.split('');

export const validChannel: fc.Arbitrary<string> = fc
  .tuple(
    fc.option(fc.string({ unit: fc.constantFrom(...NAMESPACE_CHARS), minLength: 1, maxLength: 6 }), { nil: undefined }),
    fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 10 }),
  )
  .map(([ns, name]) => (ns === undefined ? name : `${ns}:${name}`));

/**
 * Valid names about half the time, then every way a name can be wrong (or valid only just). At most ~7 KB once
 * percent-encoded, so URLs stay under node:http's 16 KB head limit (http-raw.test.ts goes past it).
 */
export const channelLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: validChannel },
  {
    weight: 4,
    arbitrary: fc.constantFrom('', ':', 'a:', ':a', 'a:b:c', 'a b', 'a*', 'a>', 'a,b', 'a/b', '..', '.', '__proto__', 'constructor', 'x'.repeat(CHANNEL_MAX_LENGTH), 'x'.repeat(CHANNEL_MAX_LENGTH + 1)),
  },
  { weight: 2, arbitrary: oddString(12) },
  { weight: 1, arbitrary: longString(CHANNEL_MAX_LENGTH - 2, 600) },
);

/** Mostly a valid name, so most requests get past validation to the real work. */
export const mostlyValidChannel: fc.Arbitrary<string> = fc.oneof({ weight: 6, arbitrary: validChannel }, { weight: 1, arbitrary: channelLike });

/* ---------- positions and cursors (text form, `<epoch>:<offset>`) ---------- */

const EPOCH_CHARS = 'abcXYZ019_-'.split('');
export const epochLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...EPOCH_CHARS), minLength: 1, maxLength: 32 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(33), 'a.b', 'a:b') },
  { weight: 1, arbitrary: oddString(6) },
);

export const offsetText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 20 }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('9007199254740991', '9007199254740992', '9999999999999999', '0000000000000001', '99999999999999999', '-1', '1.5', '1e3', '', ' 1', '+1', '0x1'),
  },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String) },
);

export const validPositionText: fc.Arbitrary<string> = fc
  .tuple(fc.string({ unit: fc.constantFrom(...EPOCH_CHARS), minLength: 1, maxLength: 12 }), fc.nat({ max: 1000 }))
  .map(([e, o]) => `${e}:${o}`);

export const positionText: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(epochLike, offsetText).map(([e, o]) => `${e}:${o}`) },
  { weight: 1, arbitrary: oddString(12) },
);

/** A cursor of `count` entries (possibly empty) or of a random length. */
export const cursorText: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 3, arbitrary: positionText }, { weight: 1, arbitrary: fc.constant('') }), { minLength: 1, maxLength: 6 })
  .map((entries) => entries.join(','));

/* ---------- JSON text ---------- */

export const numberToken: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.integer().map(String) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '0', '-0', '1e400', '-1e400', '1e308', '1.7976931348623157e308', '5e-324', '1e-400', '123456789012345678901234567890',
      '9007199254740993', '1.0', '1E2', '0.1e1', '2147483647', '2147483648', '-1', '1.5',
    ),
  },
);

export const stringToken: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: oddString().map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\/"', '"\u{1f600}"', '"\\uD83D\\uDE00"') },
);

/** Keys that have tripped JSON handlers: prototype keys and names of Object.prototype methods. */
export const keyToken: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: stringToken },
  { weight: 2, arbitrary: fc.constantFrom('"__proto__"', '"constructor"', '"prototype"', '"toString"', '"hasOwnProperty"', '"valueOf"', '""') },
);

export type Entry = [key: string, value: string];

export const objectText = (entries: fc.Arbitrary<Entry[]>): fc.Arbitrary<string> =>
  entries.map((es) => `{${es.map(([k, v]) => `${k}:${v}`).join(',')}}`);

/** `"key": <value>` for objectText. */
export const field = (key: string, value: fc.Arbitrary<string>): fc.Arbitrary<Entry> => value.map((v): Entry => [JSON.stringify(key), v]);

/** Present with probability `present` (0..1), else undefined. */
export const maybe = <T>(arb: fc.Arbitrary<T>, present: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: Math.round(100 * (1 - present)), arbitrary: fc.constant(undefined) }, { weight: Math.round(100 * present), arbitrary: arb });

/** The fields that came out present, then the extra entries (which may repeat a field: JSON.parse keeps the last). */
export const entriesOf = (fields: ReadonlyArray<fc.Arbitrary<Entry | undefined>>, extras: fc.Arbitrary<Entry[]>): fc.Arbitrary<Entry[]> =>
  fc.tuple(fc.tuple(...fields), extras).map(([fs, ex]) => [...fs.filter((e): e is Entry => e !== undefined), ...ex]);

/** Any JSON value as text, shallow (deep nesting has its own generator). */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numberToken,
    stringToken,
    fc.constantFrom('true', 'false', 'null'),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
  object: objectText(fc.array(fc.tuple(keyToken, tie('value')), { maxLength: 4 })),
})).value;

/** Payloads that once polluted prototypes in JSON mergers, as JSON text. */
export const pollutionText: fc.Arbitrary<string> = fc.constantFrom(
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":null}',
  '{"a":{"__proto__":{"toString":"x"}}}',
  '[{"__proto__":{"polluted":"yes"}}]',
);

/** Arrays or objects nested up to `max` levels, as text (bug hunt: recursive walkers overflow the stack). */
export const deepJsonText = (max: number): fc.Arbitrary<string> =>
  fc
    // Any depth, and often one near 64 (a common reader limit, and the server's data_too_deep).
    .tuple(fc.oneof(fc.integer({ min: 1, max }), fc.integer({ min: 60, max: 70 })), fc.constantFrom('array', 'object'))
    .map(([n, kind]) => (kind === 'array' ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)));

/** A JSON value text for a `data` field: ordinary, hostile, deep or very long. */
export const dataText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: jsonText },
  { weight: 1, arbitrary: pollutionText },
  { weight: 1, arbitrary: deepJsonText(12_000) },
  { weight: 1, arbitrary: longString(1000, 140_000).map((s) => JSON.stringify(s)) },
);

/** An `event` field's JSON text: names from the contract's alphabet and around its 64-character edge, odd strings, other JSON. */
export const eventText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...'aZ09_.:-'), minLength: 1, maxLength: 64 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 63, max: 66 }).map((n) => JSON.stringify('e'.repeat(n))) },
  { weight: 2, arbitrary: stringToken },
  { weight: 1, arbitrary: jsonText },
);

/** `text` cut short somewhere (an interrupted or truncated JSON document). */
export const truncated = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(text, fc.nat()).map(([t, k]) => t.slice(0, k % Math.max(1, t.length)));

/* ---------- HTTP parts ---------- */

/** Characters node:http accepts in a header value (tab, printable ASCII, Latin-1). */
export const headerValue: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof(
    { weight: 5, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.constantFrom('\t', ' ', '\u00e9', '\u00ff', '\u0080', ',', ';', '=') },
  ),
  maxLength: 40,
});

/**
 * Unknown headers a proxy or browser might add; they must not change the answer. (Origin does: a
 * page on another origin is refused on the realtime endpoints; test/origins.test.ts covers it.)
 */
export const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.constantFrom('x-fuzz', 'accept', 'accept-encoding', 'cookie', 'x-forwarded-for', 'x-request-id', 'user-agent', 'referer'),
  headerValue,
  { maxKeys: 3 },
);

/** Lone surrogates cannot be percent-encoded (URIError): a client would send U+FFFD. */
export const wellFormed = (text: string): string =>
  text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

/** Percent-encodes everything a URL cannot carry raw; `%` stays raw, so malformed escapes get through. */
export function encodeLoosely(text: string): string {
  let out = '';
  for (const ch of wellFormed(text)) out += /^[A-Za-z0-9_.~!$'()*+,;:@%=-]$/.test(ch) ? ch : encodeURIComponent(ch);
  return out;
}

export type QueryPair = [key: string, value: string];
export type Encoding = 'strict' | 'loose';
export const encoding: fc.Arbitrary<Encoding> = fc.constantFrom('strict', 'loose');

export function encodeAs(text: string, mode: Encoding): string {
  return mode === 'strict' ? encodeURIComponent(wellFormed(text)) : encodeLoosely(text);
}

/** A raw query string (without `?`): keys and values encoded strictly or loosely (malformed escapes kept). */
export function buildQuery(pairs: readonly QueryPair[], mode: Encoding): string {
  return pairs.map(([k, v]) => `${encodeAs(k, mode)}=${encodeAs(v, mode)}`).join('&');
}

/** Extra keys for a query: prototype keys, near-misses of real ones, malformed escapes. */
export const oddQueryKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '', '%zz', '%', 'a[b]', 'x'),
  oddString(8),
);

/* ---------- REST headers ---------- */

export const API_KEY_HEADER = `Bearer ${TEST_API_KEY}`;

const oneAuth: fc.Arbitrary<string> = fc.oneof(
  { weight: 24, arbitrary: fc.constant(API_KEY_HEADER) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      TEST_API_KEY, `bearer ${TEST_API_KEY}`, `Bearer  ${TEST_API_KEY}`, ` ${API_KEY_HEADER} `, `${API_KEY_HEADER}\t`, `${API_KEY_HEADER}x`,
      `Bearer ${TEST_API_KEY.slice(0, -1)}`, 'Bearer ', '', `Basic ${TEST_API_KEY}`, `${API_KEY_HEADER},${API_KEY_HEADER}`,
    ),
  },
  { weight: 1, arbitrary: headerValue },
);

/** The Authorization header: the key, near-misses, junk, absent, or sent twice. */
export const authHeader: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 30, arbitrary: oneAuth },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.tuple(oneAuth, oneAuth) },
);

const oneContentType: fc.Arbitrary<string> = fc.oneof(
  { weight: 30, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8', 'APPLICATION/JSON', 'Application/Json;charset=latin1', 'application/json;', ' application/json',
      'application/jsonx', 'application/json-patch+json', 'text/json', 'text/plain', 'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x', '', '*/*',
    ),
  },
  { weight: 1, arbitrary: headerValue },
);

export const contentTypeHeader: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 30, arbitrary: oneContentType },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.tuple(oneContentType, oneContentType) },
);
