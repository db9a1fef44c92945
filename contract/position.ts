import { z } from 'zod';

/** The epoch alphabet and length, the one definition every check of an epoch uses. */
export const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

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

/**
 * Text form of a position, `<epoch>:<offset>`, used in query strings and cursors.
 * An empty string stands for "no position" (start from now).
 */
const POSITION_TEXT = new RegExp(`^(${EPOCH_PATTERN.source.slice(1, -1)}):(\\d{1,16})$`);

export function formatPosition(p: StreamPosition): string {
  return `${p.epoch}:${p.offset}`;
}

export function parsePosition(text: string): StreamPosition | undefined {
  const m = POSITION_TEXT.exec(text);
  if (!m) return undefined;
  const offset = Number(m[2]);
  if (!Number.isSafeInteger(offset)) return undefined;
  return { epoch: m[1]!, offset };
}

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

/**
 * A cursor lists one position per subscribed channel, in the order of the `channels` list,
 * separated by commas: `k3x9a1:42,,p0q7:3`. An empty entry means "no position yet".
 * It is all the state a poll or an SSE reconnect needs, so any node can serve the next request.
 */
export function formatCursor(positions: ReadonlyArray<StreamPosition | undefined>): string {
  let out = '';
  for (let i = 0; i < positions.length; i++) {
    if (i > 0) out += ',';
    const p = positions[i];
    if (p) out += `${p.epoch}:${p.offset}`;
  }
  return out;
}

/** Returns undefined when the cursor is malformed or does not have exactly `count` entries. */
export function parseCursor(cursor: string, count: number): Array<StreamPosition | undefined> | undefined {
  const parts = cursor.split(',');
  if (parts.length !== count) return undefined;
  const out: Array<StreamPosition | undefined> = [];
  for (const part of parts) {
    if (part === '') {
      out.push(undefined);
      continue;
    }
    const p = parsePosition(part);
    if (!p) return undefined;
    out.push(p);
  }
  return out;
}
