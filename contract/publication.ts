import { z } from 'zod';
import { ChannelName } from './channel.js';
import { Epoch, Offset } from './position.js';

/**
 * Any JSON value; `undefined` (a missing field) is not one. `{} | null` rather than a recursive
 * JSON type, so callers can pass their own interfaces without index signatures.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type JsonData = {} | null;
export const JsonData = z
  .custom<JsonData>((v) => v !== undefined, { message: 'data is required' })
  .describe('Any JSON value');

export const Tags = z
  .record(z.string().max(256))
  .refine((t) => Object.keys(t).length <= 32, { message: 'at most 32 tags' })
  .describe('Free-form string labels delivered with the publication');

export const Publication = z.object({
  channel: ChannelName,
  offset: Offset,
  epoch: Epoch,
  data: JsonData,
  time: z.number().int().describe('Server time of the publication, ms since the Unix epoch'),
  tags: Tags.optional(),
});
export type Publication = z.infer<typeof Publication>;

/** Where a subscription starts: publications that follow have offsets greater than `offset`. */
export const SubscribeResult = z.object({
  channel: ChannelName,
  epoch: Epoch,
  offset: Offset,
  recovered: z
    .boolean()
    .describe('true: every publication after the requested position follows, none missing. false: the stream starts at the current position'),
});
export type SubscribeResult = z.infer<typeof SubscribeResult>;
