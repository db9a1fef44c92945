// The text forms of stream positions and cursors, zod-free so the realtime client reads and writes
// them without carrying zod; position.ts builds the schemas on them.

/** The epoch alphabet and length, the one definition every check of an epoch uses. */
export const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Structurally the contract's StreamPosition (position.ts infers the same type from its schema). */
export interface Position {
  epoch: string;
  offset: number;
}

/**
 * Text form of a position, `<epoch>:<offset>`, used in query strings and cursors.
 * An empty string stands for "no position" (start from now).
 */
export const POSITION_TEXT = new RegExp(`^(${EPOCH_PATTERN.source.slice(1, -1)}):(\\d{1,16})$`);

export function formatPosition(p: Position): string {
  return `${p.epoch}:${p.offset}`;
}

export function parsePosition(text: string): Position | undefined {
  const m = POSITION_TEXT.exec(text);
  if (!m) return undefined;
  const offset = Number(m[2]);
  if (!Number.isSafeInteger(offset)) return undefined;
  return { epoch: m[1]!, offset };
}

/**
 * A cursor lists one position per subscribed channel, in the order of the `channels` list,
 * separated by commas: `k3x9a1:42,,p0q7:3`. An empty entry means "no position yet".
 * It is all the state a poll or an SSE reconnect needs, so any node can serve the next request.
 */
export function formatCursor(positions: ReadonlyArray<Position | undefined>): string {
  let out = '';
  for (let i = 0; i < positions.length; i++) {
    if (i > 0) out += ',';
    const p = positions[i];
    if (p) out += `${p.epoch}:${p.offset}`;
  }
  return out;
}

/** Returns undefined when the cursor is malformed or does not have exactly `count` entries. */
export function parseCursor(cursor: string, count: number): Array<Position | undefined> | undefined {
  const parts = cursor.split(',');
  if (parts.length !== count) return undefined;
  const out: Array<Position | undefined> = [];
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
