import type { ZodIssue } from 'zod';
import { ERROR_TABLE, type ErrorBody, type ErrorCode, errorBody } from '../contract/index.js';
import { BrokerUnavailableError } from './broker/broker.js';

/** An error with a code from the contract's table; HTTP status and retryable come from the table. */
export class HubbubError extends Error {
  override readonly name = 'HubbubError';
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly issues?: ErrorBody['issues'],
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message ?? ERROR_TABLE[code].message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** For `rate_limited`: when the same request may succeed (HTTP `Retry-After`, rounded up to seconds). */
  readonly retryAfterMs: number | undefined;

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.issues);
  }
}

export function issuesOf(issues: readonly ZodIssue[], prefix: string): NonNullable<ErrorBody['issues']> {
  return issues.map((i) => ({ path: [prefix, ...i.path].filter((p) => p !== '').join('.'), message: i.message }));
}

/** The table code a contract schema put on a custom issue (e.g. JsonData's data_too_deep). */
function issueCode(issue: ZodIssue): ErrorCode | undefined {
  const code: unknown = issue.code === 'custom' ? issue.params?.['errorCode'] : undefined;
  return typeof code === 'string' && Object.hasOwn(ERROR_TABLE, code) ? (code as ErrorCode) : undefined;
}

/**
 * A validation failure gets the most precise code all its issues agree on: one that only concerns
 * channel names is invalid_channel, one whose issues name the same table code gets that code.
 */
export function validationError(issues: readonly ZodIssue[], prefix: string, fallback: ErrorCode = 'bad_request'): HubbubError {
  const onlyChannels =
    issues.length > 0 &&
    issues.every((i) => i.path.some((p) => p === 'channel' || p === 'channels') && i.code === 'invalid_string');
  const named = issues.length > 0 ? issueCode(issues[0]!) : undefined;
  const agreed = named !== undefined && issues.every((i) => issueCode(i) === named) ? named : undefined;
  return new HubbubError(onlyChannels ? 'invalid_channel' : (agreed ?? fallback), undefined, issuesOf(issues, prefix));
}

/**
 * Any failure as a contract error: a broker that cannot be reached is `unavailable` (retryable),
 * anything unexpected is `internal`. Transports and HTTP handlers see only contract codes.
 */
export function toHubbubError(err: unknown): HubbubError {
  if (err instanceof HubbubError) return err;
  if (err instanceof BrokerUnavailableError) return new HubbubError('unavailable', err.message, undefined, { cause: err });
  return new HubbubError('internal', undefined, undefined, { cause: err });
}
