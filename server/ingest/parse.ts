import { IngestMessage, type IngestReply } from '../../contract/ingest.js';
import { HubbubError, validationError } from '../errors.js';

// The one parser of the ingest doors: a line, a datagram or a NATS request body becomes the
// contract's PublishRequest or an error from the table. Pure, so the fuzz suite can call it alone.

export type Parsed = { ok: true; message: IngestMessage } | { ok: false; error: HubbubError };

/**
 * Parses one message. Surrounding whitespace (the `\n` of `echo`, a `\r` from a Windows shell) is
 * ignored. `channel`, when given, comes from the NATS subject: the body may repeat it, not contradict it.
 */
export function parseIngest(text: string, channel?: string): Parsed {
  const trimmed = text.trim();
  if (trimmed === '') return fail(new HubbubError('invalid_json', 'the message is empty'));
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    return fail(new HubbubError('invalid_json', 'the message is not valid JSON', undefined, { cause: err }));
  }
  if (channel !== undefined) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail(new HubbubError('bad_request', 'the message must be a JSON object: {"data": …}'));
    }
    const given: unknown = (value as Record<string, unknown>)['channel'];
    if (given !== undefined && given !== channel) {
      return fail(new HubbubError('bad_request', `the body names channel ${JSON.stringify(given)}, the subject ${JSON.stringify(channel)}`));
    }
    // A spread copies own keys only (a "__proto__" key stays a plain key, refused by the strict schema).
    value = { ...(value as Record<string, unknown>), channel };
  }
  const parsed = IngestMessage.safeParse(value);
  if (!parsed.success) return fail(validationError(parsed.error.issues, ''));
  return { ok: true, message: parsed.data };
}

function fail(error: HubbubError): Parsed {
  return { ok: false, error };
}

/** The reply line of a failure. */
export function errorReply(error: HubbubError): IngestReply {
  return { error: error.toBody() };
}
