// Fuzz: arbitrary WebSocket frames on /ws. Every frame the server reads gets exactly one reply
// (or the connection closes with a code of DISCONNECT_TABLE), every reply is a ServerFrame, and an
// error reply carries the command's id exactly when that id is a valid CommandId.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientFrame, DISCONNECT_TABLE, type ErrorCode, type ServerFrame } from '../../contract/index.js';
import { type TestServer, startServer } from '../support/server.js';
import {
  channelLike,
  deepJsonText,
  entriesOf,
  epochLike,
  eventText,
  field,
  jsonText,
  keyToken,
  maybe,
  numberToken,
  objectText,
  oddString,
  pollutionText,
  stringToken,
  truncated,
} from './arbitraries.js';
import { expectServesEveryTransport } from './checks.js';
import { FUZZ_LIMITS, fuzz, fuzzTimeout } from './harness.js';
import { checkServerFrame, connectPeer, expectDisconnectCode } from './ws-peer.js';

/** Ids of every kind: valid, zero, negative, fractional, past 2^31 and 2^53, beyond float range, not numbers. */
const idToken = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 2 ** 31 - 1 }).map(String) },
  {
    weight: 4,
    arbitrary: fc.constantFrom('0', '-1', '1.5', '2147483647', '2147483648', '9007199254740992', '9007199254740993', '1e308', '1e400', '-1e400', '-0', '1.0', '1e0', '"1"', 'null', 'true', '[]', '{}', '[1]'),
  },
  { weight: 1, arbitrary: numberToken },
);
const typeToken = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('"ping"', '"subscribe"', '"unsubscribe"') },
  { weight: 1, arbitrary: fc.constantFrom('"publish"', '""', '"PING"', '"connected"', '"error"', 'null', '1') },
  { weight: 1, arbitrary: stringToken },
);
/** A few channels again and again, so one connection subscribes, repeats and unsubscribes them. */
const channelToken = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('"f1"', '"f2"', '"ns:f3"') },
  { weight: 2, arbitrary: channelLike.map((c) => JSON.stringify(c)) },
  { weight: 1, arbitrary: jsonText },
);
const sinceToken = fc.oneof(
  objectText(entriesOf([maybe(field('epoch', epochLike.map((e) => JSON.stringify(e))), 0.9), maybe(field('offset', numberToken), 0.9)], fc.constant([]))),
  jsonText,
);
const commandText = objectText(
  entriesOf(
    [
      maybe(field('id', idToken), 0.9),
      maybe(field('type', typeToken), 0.9),
      maybe(field('channel', channelToken), 0.6),
      maybe(field('since', sinceToken), 0.15),
      // With data, a publish frame can be valid; its event name is then checked by the contract.
      maybe(field('data', jsonText), 0.1),
      maybe(field('event', eventText), 0.1),
    ],
    fc.array(fc.tuple(fc.oneof(keyToken, fc.constantFrom('"id"', '"type"', '"channel"')), jsonText), { maxLength: 1 }),
  ),
);

type Frame = { text: string } | { binary: Uint8Array };

const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 12, arbitrary: commandText.map((text) => ({ text })) },
  { weight: 1, arbitrary: truncated(commandText).map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.oneof(jsonText, pollutionText, oddString(30), deepJsonText(10_000)).map((text) => ({ text })) },
  { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 32 }), commandText.map((t) => Buffer.from(t))).map((binary) => ({ binary })) },
);

const isCommandId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 2 ** 31 - 1;

interface Expectation {
  id: number | undefined;
  accepts(reply: ServerFrame): boolean;
  what: string;
}

const errorWith = (codes: ErrorCode[]) => (r: ServerFrame) => r.type === 'error' && codes.includes(r.code);

/** The one reply a frame must get, from the contract alone. */
function expectationFor(f: Frame): Expectation {
  if ('binary' in f) return { id: undefined, accepts: errorWith(['invalid_frame']), what: 'binary frame' };
  let json: unknown;
  try {
    json = JSON.parse(f.text);
  } catch {
    return { id: undefined, accepts: errorWith(['invalid_frame']), what: 'not JSON' };
  }
  const cmd = ClientFrame.safeParse(json);
  if (!cmd.success) {
    // "The id of the command that failed, when it could be read": a valid CommandId, or nothing.
    const readable = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as { id?: unknown }).id : undefined;
    return { id: isCommandId(readable) ? readable : undefined, accepts: errorWith(['invalid_frame', 'invalid_channel']), what: 'invalid command' };
  }
  const c = cmd.data;
  if (c.type === 'ping') return { id: c.id, accepts: (r) => r.type === 'pong', what: 'ping' };
  // A later unsubscribe in the same run may cut a subscribe short: then any one reply will do
  // (ws-commands.test.ts models the exact answer).
  if (c.type === 'subscribe') return { id: c.id, accepts: (r) => r.type === 'error' || ('channel' in r && r.channel === c.channel), what: 'subscribe' };
  if (c.type === 'unsubscribe') {
    return { id: c.id, accepts: (r) => (r.type === 'unsubscribed' && r.channel === c.channel) || errorWith(['not_subscribed'])(r), what: 'unsubscribe' };
  }
  // connect, refresh, publish: their own reply, or a refusal (a made-up token, an anonymous publish, connect after other commands).
  const reply = { connect: 'connected', refresh: 'refreshed', publish: 'published' }[c.type];
  return { id: c.id, accepts: (r) => r.type === reply || r.type === 'error', what: c.type };
}

/**
 * Pairs replies with frames: each reply must carry its frame's id and be of an accepted kind.
 * Replies arrive in any order (a subscribe answers later) and kinds overlap, so this looks for a
 * perfect matching (augmenting paths) rather than taking the first fit.
 */
function expectOneReplyEach(expectations: Expectation[], replies: ServerFrame[], raw: string[]): void {
  const fits = (e: Expectation, r: ServerFrame) => e.id === ('id' in r ? r.id : undefined) && e.accepts(r);
  const owner: Array<number | undefined> = replies.map(() => undefined);
  const assign = (e: number, seen: Set<number>): boolean => {
    for (let r = 0; r < replies.length; r++) {
      if (seen.has(r) || !fits(expectations[e]!, replies[r]!)) continue;
      seen.add(r);
      if (owner[r] === undefined || assign(owner[r]!, seen)) {
        owner[r] = e;
        return true;
      }
    }
    return false;
  };
  const unanswered = expectations.filter((_, e) => !assign(e, new Set())).map((e) => `${e.what} (id ${e.id})`);
  expect(unanswered, `frames without a fitting reply; replies: ${raw.join(' ').slice(0, 1500)}`).toEqual([]);
  expect(replies.length, `more replies than frames: ${raw.join(' ').slice(0, 1500)}`).toBe(expectations.length);
}

/** Bytes that are not UTF-8: lone continuation, overlong, surrogate, cut short, past U+10FFFF. */
const notUtf8 = fc.constantFrom([0x80], [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]);
const unreadable = fc.oneof(
  fc.record({ kind: fc.constant('oversized' as const), extra: fc.integer({ min: 1, max: 5000 }), binary: fc.boolean() }),
  fc.record({ kind: fc.constant('not utf-8' as const), text: fc.constantFrom('', '{"id":1,"type":"ping"}', 'x'), bad: notUtf8 }),
);

/** The final ping: its pong means every synchronous reply before it has been written. */
const SENTINEL: Frame = { text: JSON.stringify({ id: 2 ** 31 - 1, type: 'ping' }) };

describe('fuzz: WebSocket frames', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer(FUZZ_LIMITS);
  });
  afterAll(() => srv?.close());

  it(
    'every frame gets exactly one contract reply, with the id when it is a valid CommandId',
    () =>
      fuzz('ws frames', srv, fc.array(frame, { minLength: 1, maxLength: 8 }), async (frames) => {
        const peer = await connectPeer(srv.wsUrl);
        try {
          const sent = [...frames, SENTINEL];
          const expectations = sent.map(expectationFor);
          for (const f of sent) peer.send('text' in f ? f.text : f.binary, 'binary' in f);
          const replies: ServerFrame[] = [];
          const received = () => {
            while (replies.length < peer.frames.length) replies.push(checkServerFrame(peer.frames[replies.length]!));
            return replies.length >= expectations.length;
          };
          await peer.until(received, 'a reply to every frame');
          expect(peer.closeCode, 'the server closed the connection').toBeUndefined();
          // One more round trip: a second reply to any frame would have arrived by now.
          peer.send(SENTINEL.text, false);
          expectations.push(expectationFor(SENTINEL));
          await peer.until(received, 'the last pong');
          expectOneReplyEach(expectations, replies, peer.frames.map((f) => f.raw));
          return frames.length === 1 ? replies[0]!.type : 'several';
        } finally {
          await peer.close();
        }
      }),
    fuzzTimeout(30),
  );

  it(
    'frames the server cannot read (too big, not UTF-8) close with a DISCONNECT_TABLE code or get invalid_frame',
    () =>
      fuzz('ws unreadable frames', srv, unreadable, async (input) => {
        const peer = await connectPeer(srv.wsUrl);
        try {
          const limit = srv.config.maxMessageBytes;
          const payload = input.kind === 'oversized' ? Buffer.alloc(limit + input.extra, 0x61) : Buffer.concat([Buffer.from(input.text), Buffer.from(input.bad)]);
          peer.send(payload, input.kind === 'oversized' && input.binary);
          peer.send(SENTINEL.text, false);
          await peer.until(() => peer.frames.length >= 2, 'a reply or a close');
          const what = input.kind === 'oversized' ? `a frame of ${payload.length} bytes (limit ${limit})` : `text frame with bytes ${input.bad.join(',')}`;
          if (input.kind === 'oversized') {
            expect(peer.closeCode, `${what}: close code`).toBe(DISCONNECT_TABLE.message_too_big.code);
            return 'closed message_too_big';
          }
          if (peer.closeCode !== undefined) {
            expectDisconnectCode(peer.closeCode, what);
            return `closed ${peer.closeCode}`;
          }
          const [reply, pong] = peer.frames.map(checkServerFrame);
          expect(reply, what).toMatchObject({ type: 'error', code: 'invalid_frame' });
          expect(reply, what).not.toHaveProperty('id');
          expect(pong, what).toMatchObject({ type: 'pong' });
          return 'invalid_frame';
        } finally {
          await peer.close();
        }
      }),
    fuzzTimeout(30),
  );

  it('still serves a normal client on every transport afterwards', () => expectServesEveryTransport(srv));
});
