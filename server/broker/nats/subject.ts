import { isChannelName } from '../../../contract/channel.js';

// Channel → NATS subject mapping for the NatsBroker.
//
// Every channel becomes exactly one subject token, so a `.` in a channel name can never
// add a subject level and no channel can match another one's wildcard. The escaping is
// quoted-printable style: bytes outside [A-Za-z0-9_-] become `=XX` (upper-case hex), `=`
// included, which keeps it injective and leaves the token a valid JetStream KV-style key.

export const DEFAULT_PREFIX = 'hubbub';
const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const PLAIN = /[A-Za-z0-9_-]/;

export class InvalidSubjectError extends Error {
  override readonly name = 'InvalidSubjectError';
}

/** Throws InvalidSubjectError unless `channel` maps onto a subject token: checked before any work is queued for it. */
export function assertChannel(channel: string): void {
  channelToken(channel);
}

export function channelToken(channel: string): string {
  if (!isChannelName(channel)) throw new InvalidSubjectError(`not a channel name: ${JSON.stringify(channel)}`);
  let out = '';
  for (const ch of channel) {
    if (PLAIN.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function tokenChannel(token: string): string {
  if (!/^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$/.test(token)) throw new InvalidSubjectError(`not a channel token: ${token}`);
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** All names one deployment (one prefix) uses on a shared NATS. */
export interface SubjectSpace {
  readonly prefix: string;
  /** The JetStream stream holding every channel's history. */
  readonly stream: string;
  readonly streamSubjects: string[];
  /** The stream holding every channel's epoch (position) record, kept for the history meta TTL. */
  readonly metaStream: string;
  readonly metaSubjects: string[];
  /** The stream holding idempotency reservations and results (its own duplicate window). */
  readonly idempotencyStream: string;
  readonly idempotencySubjects: string[];
  /** Stored publications: `<prefix>.ch.<token>`. */
  history(channel: string): string;
  /** Where the stream republishes what it stored: `<prefix>.live.<token>`. */
  live(channel: string): string;
  readonly historyWildcard: string;
  readonly liveTemplate: string;
  /** The channel's epoch records: `<prefix>.epoch.<token>`. */
  epoch(channel: string): string;
  /** One idempotency key of one channel: `<prefix>.idem.<digest>`. */
  idempotency(digest: string): string;
}

export function subjectSpace(prefix: string = DEFAULT_PREFIX): SubjectSpace {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidSubjectError(`prefix must match ${PREFIX_PATTERN} (one subject token), got ${JSON.stringify(prefix)}`);
  }
  return {
    prefix,
    stream: `${prefix}_channels`,
    streamSubjects: [`${prefix}.ch.*`],
    metaStream: `${prefix}_meta`,
    metaSubjects: [`${prefix}.epoch.*`],
    idempotencyStream: `${prefix}_idempotency`,
    idempotencySubjects: [`${prefix}.idem.*`],
    history: (channel) => `${prefix}.ch.${channelToken(channel)}`,
    live: (channel) => `${prefix}.live.${channelToken(channel)}`,
    historyWildcard: `${prefix}.ch.*`,
    liveTemplate: `${prefix}.live.{{wildcard(1)}}`,
    epoch: (channel) => `${prefix}.epoch.${channelToken(channel)}`,
    idempotency: (digest) => {
      if (!/^[A-Za-z0-9_-]+$/.test(digest)) throw new InvalidSubjectError(`bad digest ${digest}`);
      return `${prefix}.idem.${digest}`;
    },
  };
}
