// Fuzz: the ingest doors' line/datagram parser and line splitter, alone and through a real Unix
// socket. Any input gets exactly one answer: the contract's PublishRequest, or an error whose code
// is in the table; the splitter gives the same lines however the bytes are cut into chunks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, ErrorBody, PublishRequest } from '../../contract/index.js';
import { IngestReply } from '../../contract/ingest.js';
import { type LineEvent, LineSplitter } from '../../server/ingest/lines.js';
import { parseIngest } from '../../server/ingest/parse.js';
import { LineClient, socketDir, startIngestServer } from '../support/ingest.js';
import { dataText, field, jsonText, maybe, mostlyValidChannel, objectText, oddString, truncated } from './arbitraries.js';
import { FUZZ_RUNS, expectNoPrototypePollution, fuzz, fuzzTimeout } from './harness.js';

/** A message as a producer might write it: mostly well-formed, sometimes cut, odd or not JSON at all. */
const messageText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        maybe(field('channel', mostlyValidChannel.map((c) => JSON.stringify(c))), 0.9),
        maybe(field('data', dataText), 0.9),
        maybe(field('idempotencyKey', oddString(140).map((s) => JSON.stringify(s))), 0.2),
        maybe(field('event', oddString(30).map((s) => JSON.stringify(s))), 0.1),
        fc.oneof({ weight: 8, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(oddString(8).map((k) => JSON.stringify(k)), jsonText), { maxLength: 2 }) }),
      )
      .chain(([c, d, k, e, extra]) => objectText(fc.constant([...[c, d, k, e].filter((x) => x !== undefined), ...extra]))),
  },
  { weight: 1, arbitrary: truncated(jsonText) },
  { weight: 1, arbitrary: jsonText },
  { weight: 1, arbitrary: oddString(60) },
);

function expectOneAnswer(text: string, channel?: string): string {
  const parsed = parseIngest(text, channel);
  if (parsed.ok) {
    expect(PublishRequest.safeParse(parsed.message).success).toBe(true);
    if (channel !== undefined) expect(parsed.message.channel).toBe(channel);
    return 'published';
  }
  expect(Object.hasOwn(ERROR_TABLE, parsed.error.code)).toBe(true);
  expect(ErrorBody.safeParse(parsed.error.toBody()).success).toBe(true);
  return parsed.error.code;
}

describe('fuzz: ingest messages', () => {
  it('the parser answers every line and NATS body with a PublishRequest or a table error, and pollutes nothing', () => {
    fc.assert(
      fc.property(messageText, maybe(mostlyValidChannel, 0.3), (text, channel) => {
        expectOneAnswer(text, channel);
        expectNoPrototypePollution();
      }),
      { numRuns: FUZZ_RUNS, seed: 1010 },
    );
  });

  it('the line splitter gives the same lines however the stream is cut, and none longer than the limit', () => {
    const limit = 64;
    const stream = fc.array(fc.oneof(fc.constant('\n'), oddString(40), fc.string({ maxLength: 100 })), { maxLength: 20 }).map((parts) => Buffer.from(parts.join('')));
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const split = (chunks: Buffer[]) => {
          const events: LineEvent[] = [];
          const s = new LineSplitter(limit);
          for (const c of chunks) s.push(c, (e) => events.push(e));
          s.end((e) => events.push(e));
          return events;
        };
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points, bytes.length].slice(1).map((end, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1]!, end));
        const whole = split([bytes]);
        expect(split(chunks)).toEqual(whole);
        for (const e of whole) if ('line' in e) expect(Buffer.byteLength(e.line)).toBeLessThanOrEqual(limit);
      }),
      { numRuns: FUZZ_RUNS, seed: 1011 },
    );
  });

  it(
    'through a real Unix socket, every line gets exactly one reply line, the one the parser gives',
    async () => {
      await using d = await socketDir();
      const path = `${d.dir}/fuzz.sock`;
      await using srv = await startIngestServer({ HUBBUB_INGEST_UNIX: path });
      const client = await LineClient.open(path);
      let sent = 0;
      await fuzz('ingest unix lines', srv, messageText.filter((t) => !t.includes('\n') && t.trim() !== ''), async (text) => {
        client.send(text);
        sent += 1;
        const reply = (await client.replied(sent))[sent - 1]!;
        expect(IngestReply.safeParse(reply).success).toBe(true);
        const got = 'error' in reply ? reply.error.code : 'published';
        // A line past the limit is refused before it is parsed (deepJsonText makes such lines).
        if (Buffer.byteLength(text) > srv.config.maxMessageBytes) expect(got).toBe('payload_too_large');
        else {
          const expected = expectOneAnswer(text);
          // The service may still refuse what parsed (data over the size limit); the parser's own verdicts hold.
          if (expected !== 'published') expect(got).toBe(expected);
        }
        return got;
      });
      client.close();
    },
    fuzzTimeout(50),
  );
});
