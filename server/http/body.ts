import type { IncomingMessage } from 'node:http';
import { HubbubError } from '../errors.js';

/** Reads a JSON body, refusing anything larger than `limit` bytes before buffering it. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HubbubError('unsupported_media_type');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HubbubError('payload_too_large', `body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        req.resume();
        throw new HubbubError('payload_too_large', `body exceeds the limit of ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof HubbubError) throw err;
    // The client went away mid-body: its mistake (or its network's), not a server fault to log.
    throw new HubbubError('bad_request', 'the request body was cut off', undefined, { cause: err });
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HubbubError('invalid_json', 'the body is empty');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HubbubError('invalid_json', undefined, undefined, { cause: err });
  }
}
