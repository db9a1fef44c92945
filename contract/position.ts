import { z } from 'zod';
import { EPOCH_PATTERN, POSITION_TEXT, parsePosition } from './position-text.js';

// The schemas of stream positions, built on the zod-free text forms of position-text.ts.
export { EPOCH_PATTERN, formatCursor, formatPosition, parseCursor, parsePosition } from './position-text.js';

/** Epoch: changes whenever a channel's history is reset or lost, so old offsets cannot be trusted. */
export const Epoch = z
  .string()
  .regex(EPOCH_PATTERN)
  .describe('Identifies one generation of a channel history; a new epoch means offsets restarted');
// An empty position (`0<time>:0`, nothing stored yet) has an epoch of its own form: empty-epoch.ts.
export { emptyEpoch, emptyEpochTime, isEmptyEpoch } from './empty-epoch.js';
/** Offset: 1 for the first publication of an epoch, +1 for each next one; 0 means "before the first". */
export const Offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const StreamPosition = z.object({ epoch: Epoch, offset: Offset });
export type StreamPosition = z.infer<typeof StreamPosition>;

export const PositionText = z
  .string()
  .regex(POSITION_TEXT, { message: 'expected <epoch>:<offset>' })
  .transform((s, ctx) => {
    const position = parsePosition(s);
    // The regex allows 16 digits; past 2^53 - 1 the offset is not exact and must not read as "no position".
    if (!position) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'the offset must be at most 2^53 - 1' });
      return z.NEVER;
    }
    return position;
  })
  .describe('A stream position as <epoch>:<offset>, e.g. k3x9a1:42');
