import { z } from 'zod';
import { ChannelName } from './channel.js';
import { EVENT_NAME_PATTERN, EVENT_NAME_RULE } from './event-name.js';
import { MAX_DATA_DEPTH, dataProblem } from './json-data.js';
import { Epoch, Offset } from './position.js';

export { MAX_DATA_DEPTH, dataProblem };
export { EVENT_NAME_MAX_LENGTH, EVENT_NAME_PATTERN, EVENT_NAME_RULE, isEventName } from './event-name.js';

/**
 * Any JSON value; `undefined` (a missing field) is not one. `{} | null` rather than a recursive
 * JSON type, so callers can pass their own interfaces without index signatures.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type JsonData = {} | null;
/**
 * Every door that takes data (publish, broadcast) validates it here, before anything is stored.
 * A refusal carries its error-table code in the issue's params (server/errors.ts reads it).
 */
export const JsonData = z
  .custom<JsonData>((v) => v !== undefined, { message: 'data is required' })
  .superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : dataProblem(v);
    if (!problem) return;
    const params = problem.code ? { params: { errorCode: problem.code } } : {};
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem.message, ...params });
  })
  .describe('Any JSON value');

// A zod record silently drops a `__proto__` key while copying: refuse it rather than store other tags than sent.
const TagName = z.string().refine((k) => k !== '__proto__', { message: 'a tag may not be named __proto__' });

export const Tags = z
  .record(TagName, z.string().max(256))
  .refine((t) => Object.keys(t).length <= 32, { message: 'at most 32 tags' })
  .describe('Free-form string labels delivered with the publication');

/**
 * What a publication is about (`create`, `tweet.update`): clients pick handlers by it. Absent: no
 * name, and the publication's frames are exactly those of a server without events.
 */
export const EventName = z
  .string()
  .regex(EVENT_NAME_PATTERN, { message: `invalid event name (${EVENT_NAME_RULE})` })
  .describe(`Event name of the publication, for clients that handle events by name: ${EVENT_NAME_RULE}`);
export type EventName = z.infer<typeof EventName>;

export const Publication = z.object({
  channel: ChannelName,
  offset: Offset,
  epoch: Epoch,
  data: JsonData,
  time: z.number().int().describe('Server time of the publication, ms since the Unix epoch'),
  event: EventName.optional(),
  tags: Tags.optional(),
  publisher: z
    .object({
      user: z.string().describe('The user id from the connection token ("" for an anonymous client)'),
      client: z.string().describe('The connection that published'),
      info: JsonData.optional().describe('The info claim of the connection token'),
    })
    .optional()
    .describe('Set by the server on client publishes, from the verified token; never taken from the client'),
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
