import { createHash } from 'node:crypto';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import { isEventName } from '../../../contract/event-name.js';
import { dataProblem } from '../../../contract/json-data.js';
import { EPOCH_PATTERN, type JsonData, type Publication } from '../../../contract/index.js';
import type { PublishOptions } from '../broker.js';

/**
 * Wire format of one stored publication: position and time in headers (so the publish path
 * can read a channel's head without parsing its payload), data, event name, tags and publisher as a
 * JSON body (so a batch holds each publication's own).
 */
export const Header = {
  epoch: 'Hubbub-Epoch',
  offset: 'Hubbub-Offset',
  time: 'Hubbub-Time',
  /** Stream sequence of the previous publication of the channel: lets history walk backwards. */
  prevSeq: 'Hubbub-Prev-Seq',
  /** Digest of the idempotency key, when the publish had one. */
  idempotency: 'Hubbub-Idempotency',
  /** Marks a seal: not a publication, it repeats the position of the one before it (see seal.ts). */
  seal: 'Hubbub-Seal',
  /**
   * On offset 1 of the channel's first known generation (its epoch record chain started with it):
   * no generation came before it that a client who saw the channel empty could have missed. Absent
   * after a lost generation (epochs.ts) and on anything older nodes wrote.
   */
  first: 'Hubbub-First',
  /**
   * On a batch: how many consecutive publications the message holds (2 or more; absent: one). The
   * offset header is then the last one's, so the message reads as a head like any other.
   */
  count: 'Hubbub-Count',
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsDecodeError extends Error {
  override readonly name = 'NatsDecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The latest stored message of a channel (a publication or a seal), as the publish path needs it. */
export interface Head {
  seq: number;
  epoch: string;
  offset: number;
  /** The head is a seal: the channel went quiet and its position record says the generation ended here. */
  sealed?: boolean;
}

export interface DecodedPublication {
  pub: Publication;
  prevSeq: number;
}

/** Idempotency keys are scoped per channel by hashing both; the digest is a subject token. */
export function idempotencyDigest(channel: string, key: string): string {
  return createHash('sha256').update(channel).update('\0').update(key).digest('base64url');
}

/** What a publication carries besides its data. */
export type EntryExtras = Pick<PublishOptions, 'event' | 'tags' | 'publisher'>;

/** The JSON body of one publication (data, event, tags, publisher): encoded once per publish, reused by retries. */
export function encodeEntry(data: JsonData, extras: EntryExtras = {}): string {
  const body: { d: JsonData; e?: string; t?: Record<string, string>; p?: Publication['publisher'] } = { d: data };
  if (extras.event !== undefined) body.e = extras.event;
  if (extras.tags) body.t = extras.tags;
  if (extras.publisher) body.p = extras.publisher;
  return JSON.stringify(body);
}

/** Where a stored message sits: its epoch, its LAST offset, when it was written, the message before it. */
export interface MessagePosition {
  epoch: string;
  last: number;
  time: number;
  prevSeq: number;
}

/**
 * One stored message holding `entries`, the publications at offsets last-k+1..last. A single entry
 * is the original one-publication message; several are a batch: a JSON array of the same bodies.
 */
export function encodeMessage(m: MessagePosition, entries: readonly string[]): { headers: MsgHdrs; body: Uint8Array } {
  const h = natsHeaders();
  h.set(Header.epoch, m.epoch);
  h.set(Header.offset, String(m.last));
  h.set(Header.time, String(m.time));
  h.set(Header.prevSeq, String(m.prevSeq));
  if (entries.length === 1) return { headers: h, body: encoder.encode(entries[0]) };
  h.set(Header.count, String(entries.length));
  return { headers: h, body: encoder.encode(`[${entries.join(',')}]`) };
}

export function encodePublication(pub: Publication, prevSeq: number): { headers: MsgHdrs; body: Uint8Array } {
  const m = { epoch: pub.epoch, last: pub.offset, time: pub.time, prevSeq };
  return encodeMessage(m, [encodeEntry(pub.data, pub)]);
}

function intHeader(h: MsgHdrs, name: string, min: number): number {
  const raw = h.get(name);
  const n = Number(raw);
  if (raw === '' || !Number.isSafeInteger(n) || n < min) throw new NatsDecodeError(`bad ${name} header: ${JSON.stringify(raw)}`);
  return n;
}

function epochHeader(h: MsgHdrs): string {
  const epoch = h.get(Header.epoch);
  if (!EPOCH_PATTERN.test(epoch)) throw new NatsDecodeError(`bad ${Header.epoch} header: ${JSON.stringify(epoch)}`);
  return epoch;
}

export function decodeHead(seq: number, h: MsgHdrs | undefined): Head {
  if (!h) throw new NatsDecodeError(`message ${seq} has no headers`);
  const head: Head = { seq, epoch: epochHeader(h), offset: intHeader(h, Header.offset, 1) };
  if (isSeal(h)) head.sealed = true;
  return head;
}

export function isSeal(h: MsgHdrs | undefined): boolean {
  return h?.has(Header.seal) === true;
}

/** A seal appended after the channel's last publication `head` (stream sequence `head.seq`). */
export function encodeSeal(head: Head, time: number): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.epoch, head.epoch);
  h.set(Header.offset, String(head.offset));
  h.set(Header.time, String(time));
  h.set(Header.prevSeq, String(head.seq));
  h.set(Header.seal, '1');
  return h;
}

/** Stream sequence of the publication a seal follows. */
export function sealPrevSeq(h: MsgHdrs): number {
  return intHeader(h, Header.prevSeq, 0);
}

export function decodePublication(channel: string, h: MsgHdrs | undefined, data: Uint8Array): DecodedPublication {
  if (!h) throw new NatsDecodeError(`publication of ${channel} has no headers`);
  if (h.has(Header.count)) throw new NatsDecodeError(`publication of ${channel} is a batch`);
  const pub = toPublication(channel, parseBody(channel, data), epochHeader(h), intHeader(h, Header.offset, 1), intHeader(h, Header.time, 0));
  return { pub, prevSeq: intHeader(h, Header.prevSeq, 0) };
}

/** Every publication a stored message holds (one, or a batch's), oldest first. */
export interface DecodedMessage {
  pubs: Publication[];
  prevSeq: number;
}

export function decodeMessage(channel: string, h: MsgHdrs | undefined, data: Uint8Array): DecodedMessage {
  if (!h?.has(Header.count)) {
    const { pub, prevSeq } = decodePublication(channel, h, data);
    return { pubs: [pub], prevSeq };
  }
  const count = intHeader(h, Header.count, 2);
  // The first offset is at least 1.
  const last = intHeader(h, Header.offset, count);
  const epoch = epochHeader(h);
  const time = intHeader(h, Header.time, 0);
  const body = parseBody(channel, data);
  if (!Array.isArray(body) || body.length !== count) throw new NatsDecodeError(`batch of ${channel} does not hold ${count} publications`);
  const pubs = body.map((entry: unknown, i) => toPublication(channel, entry, epoch, last - count + 1 + i, time));
  return { pubs, prevSeq: intHeader(h, Header.prevSeq, 0) };
}

function parseBody(channel: string, data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch (cause) {
    throw new NatsDecodeError(`publication of ${channel} has a body that is not JSON`, { cause });
  }
}

function toPublication(channel: string, body: unknown, epoch: string, offset: number, time: number): Publication {
  if (typeof body !== 'object' || body === null || !('d' in body)) {
    throw new NatsDecodeError(`publication of ${channel} has no data`);
  }
  const { d, e, t, p } = body as { d: JsonData; e?: unknown; t?: unknown; p?: unknown };
  // Stored by something that skipped the contract (an older node, a hand-written message): data
  // that no transport can encode must stop here as a counted decode error, not in the fan-out.
  const problem = dataProblem(d);
  if (problem) throw new NatsDecodeError(`publication of ${channel}: ${problem.message}`);
  const pub: Publication = { channel, offset, epoch, data: d, time };
  if (e !== undefined) {
    if (!isEventName(e)) throw new NatsDecodeError(`publication of ${channel} has a malformed event name`);
    pub.event = e;
  }
  if (t !== undefined) {
    if (typeof t !== 'object' || t === null || Object.values(t).some((v) => typeof v !== 'string')) {
      throw new NatsDecodeError(`publication of ${channel} has malformed tags`);
    }
    pub.tags = t as Record<string, string>;
  }
  if (p !== undefined) {
    const who = p as { user?: unknown; client?: unknown } | null;
    if (typeof who !== 'object' || who === null || typeof who.user !== 'string' || typeof who.client !== 'string') {
      throw new NatsDecodeError(`publication of ${channel} has a malformed publisher`);
    }
    pub.publisher = p as NonNullable<Publication['publisher']>;
  }
  return pub;
}

/**
 * Epoch record (`<prefix>.epoch.<token>`, the last one counts), the channel's position record:
 * - `free`: the channel's next generation uses this epoch (not started: it must start at offset 1);
 * - `started`: a generation runs with this epoch (it must never start another), end unknown;
 * - `closed`: the generation ended at `offset` (sealed: nothing can follow without reopening it first),
 *   so once its publications expired it goes on at `offset + 1`.
 */
export type EpochState = 'free' | 'started' | 'closed';

export interface EpochRecord {
  seq: number;
  epoch: string;
  state: EpochState;
  /** The generation's latest offset when closed, else 0. */
  offset: number;
  /** Server time the record was stored, ms. */
  time: number;
}

const STATE_CODES: Record<EpochState, number> = { free: 0, started: 1, closed: 2 };

export function encodeEpochRecord(epoch: string, state: EpochState, offset = 0): Uint8Array {
  const r: { e: string; s: number; o?: number } = { e: epoch, s: STATE_CODES[state] };
  if (state === 'closed') r.o = offset;
  return encoder.encode(JSON.stringify(r));
}

export function decodeEpochRecord(seq: number, time: number, data: Uint8Array): EpochRecord {
  const r = parseJson(data, 'epoch record') as { e?: unknown; s?: unknown; o?: unknown };
  const state = (Object.keys(STATE_CODES) as EpochState[]).find((k) => STATE_CODES[k] === r.s);
  const offset = state === 'closed' ? r.o : 0;
  if (typeof r.e !== 'string' || !EPOCH_PATTERN.test(r.e) || !state || !Number.isSafeInteger(offset) || (offset as number) < 0) {
    throw new NatsDecodeError(`malformed epoch record ${decoder.decode(data)}`);
  }
  return { seq, epoch: r.e, state, offset: offset as number, time };
}

/** Idempotency record (`<prefix>.idem.<digest>`, the last one counts). */
export type IdempotencyRecord =
  /** Reserved by a publish in progress (or one that died: it goes stale). */
  | { state: 'pending'; seq: number; time: number }
  | { state: 'done'; seq: number; time: number; epoch: string; offset: number; pubTime: number; pubSeq: number };

export type IdempotencyBody =
  | { state: 'pending' }
  | { state: 'done'; epoch: string; offset: number; pubTime: number; pubSeq: number };

export function encodeIdempotencyRecord(r: IdempotencyBody): Uint8Array {
  if (r.state !== 'done') return encoder.encode(JSON.stringify({ st: r.state }));
  return encoder.encode(JSON.stringify({ st: 'done', e: r.epoch, o: r.offset, t: r.pubTime, q: r.pubSeq }));
}

export function decodeIdempotencyRecord(seq: number, time: number, data: Uint8Array): IdempotencyRecord {
  const r = parseJson(data, 'idempotency record') as { st?: unknown; e?: unknown; o?: unknown; t?: unknown; q?: unknown };
  if (r.st === 'pending') return { state: 'pending', seq, time };
  if (
    r.st === 'done' &&
    typeof r.e === 'string' &&
    EPOCH_PATTERN.test(r.e) &&
    Number.isSafeInteger(r.o) &&
    Number.isSafeInteger(r.t) &&
    Number.isSafeInteger(r.q)
  ) {
    return { state: 'done', seq, time, epoch: r.e, offset: r.o as number, pubTime: r.t as number, pubSeq: r.q as number };
  }
  throw new NatsDecodeError(`malformed idempotency record ${decoder.decode(data)}`);
}

function parseJson(data: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    if (typeof v === 'object' && v !== null) return v as Record<string, unknown>;
  } catch (cause) {
    throw new NatsDecodeError(`${what} is not JSON`, { cause });
  }
  throw new NatsDecodeError(`${what} is not a JSON object`);
}
