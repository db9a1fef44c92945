import { z } from 'zod';
import { ERROR_CODES, ERROR_TABLE } from './error-messages.js';
import type { ErrorCode } from './error-table.js';

// The error body schemas, built on the one table of error codes (error-table.ts, with its messages in error-messages.ts).
export { ERROR_STATUS, type ErrorCode } from './error-table.js';
export { ERROR_CODES, ERROR_MESSAGES, ERROR_TABLE } from './error-messages.js';

export const ErrorCodeSchema = z.enum(ERROR_CODES);

export const ErrorIssue = z.object({
  path: z.string().describe('Where the problem is, e.g. body.channel or query.limit'),
  message: z.string(),
});

export const ErrorBody = z
  .object({
    code: ErrorCodeSchema,
    message: z.string(),
    retryable: z.boolean(),
    issues: z.array(ErrorIssue).optional(),
  })
  .describe('Every error response has this shape; `code` is from the error table of the protocol guide (/docs/protocol.md)');
export type ErrorBody = z.infer<typeof ErrorBody>;

export function errorBody(code: ErrorCode, message?: string, issues?: ErrorBody['issues']): ErrorBody {
  const row = ERROR_TABLE[code];
  const body: ErrorBody = { code, message: message ?? row.message, retryable: row.retryable };
  if (issues && issues.length > 0) body.issues = issues;
  return body;
}

/** Error schemas for a route, keyed by the statuses of the given codes (used by the ts-rest router). */
export function errorResponses<C extends ErrorCode>(...codes: C[]): Record<(typeof ERROR_TABLE)[C]['status'], typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = {};
  for (const c of codes) out[ERROR_TABLE[c].status] = ErrorBody;
  return out as Record<(typeof ERROR_TABLE)[C]['status'], typeof ErrorBody>;
}
