import { ERROR_STATUS, type ErrorCode } from '../contract/error-table.js';
import type { ErrorBody } from '../contract/errors.js';
import { DISCONNECT_TABLE, type DisconnectName } from '../contract/disconnect.js';

/** Every code the server can answer with; derived from the contract's table, never copied. */
export type HubbubErrorCode = ErrorCode;
export type HubbubErrorIssue = NonNullable<ErrorBody['issues']>[number];

export interface HubbubErrorOptions {
  /** HTTP status; 0 when no HTTP response was involved (WebSocket error frame, network failure, local check). */
  status?: number;
  retryable?: boolean;
  issues?: HubbubErrorIssue[];
  cause?: unknown;
  /** ms the server asked to wait before trying again (Retry-After of a 429). */
  retryAfter?: number;
}

/** An error with a code from the contract's error table: an HTTP error body, a WebSocket error frame or a local check. */
export class HubbubError extends Error {
  override readonly name = 'HubbubError';
  readonly code: HubbubErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly issues: HubbubErrorIssue[] | undefined;
  /** ms the server asked to wait before trying again (rate_limited over HTTP); undefined when it did not say. */
  readonly retryAfter: number | undefined;

  constructor(code: HubbubErrorCode, message?: string, options: HubbubErrorOptions = {}) {
    const row = ERROR_STATUS[code];
    // The table's messages stay on the server (they would cost the bundle a third of its budget):
    // a client-made error without its own message says its code.
    super(message ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? row.status;
    this.retryable = options.retryable ?? row.retryable;
    this.issues = options.issues;
    this.retryAfter = options.retryAfter;
  }

  /**
   * Builds the error for a non-2xx response. A body that is not an ErrorBody (a proxy's HTML page,
   * a gateway timeout) still yields a code: the table's row for that status, else by status class.
   */
  static fromResponse(status: number, body: unknown, options: { cause?: unknown; retryAfter?: number | undefined } = {}): HubbubError {
    const { cause, retryAfter } = options;
    if (isErrorBody(body)) {
      return new HubbubError(body.code, body.message, { status, retryable: body.retryable, issues: body.issues, cause, retryAfter });
    }
    const code = codeForStatus(status);
    const text = typeof body === 'string' && body.length > 0 ? `: ${body.slice(0, 200)}` : '';
    return new HubbubError(code, `HTTP ${status}${text}`, { status, retryable: status >= 500 || status === 429, cause, retryAfter });
  }
}

function codeForStatus(status: number): HubbubErrorCode {
  for (const [code, row] of Object.entries(ERROR_STATUS) as Array<[HubbubErrorCode, (typeof ERROR_STATUS)[HubbubErrorCode]]>) {
    if (row.status === status) return code;
  }
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  return status >= 500 ? 'internal' : 'bad_request';
}

/** A cheap structural check; full zod validation of every response is not worth its bundle size. */
export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === 'string' && v.code in ERROR_STATUS && typeof v.message === 'string' && typeof v.retryable === 'boolean';
}

/** The server closed the connection with a terminal code (see `shouldReconnect` in the contract): the client stopped. */
export class HubbubDisconnectError extends Error {
  override readonly name = 'HubbubDisconnectError';
  constructor(
    /** WebSocket close code, or the `code` of an SSE disconnect event. */
    readonly code: number,
    readonly reason: string,
    /** The row name of DISCONNECT_TABLE when the server sent one (SSE); the server may know names this client does not. */
    readonly disconnect?: DisconnectName | (string & {}),
  ) {
    super(`disconnected by the server: ${code}${reason ? ` ${reason}` : ''}`);
  }
}

/** The row of the disconnect table with this code (WebSocket close codes carry no name). */
export function disconnectName(code: number): DisconnectName | undefined {
  for (const [name, row] of Object.entries(DISCONNECT_TABLE) as Array<[DisconnectName, { code: number }]>) if (row.code === code) return name;
  return undefined;
}

/** None of the configured transports exists in this environment (no WebSocket, EventSource or fetch). */
export class HubbubNoTransportError extends Error {
  override readonly name = 'HubbubNoTransportError';
  constructor(readonly tried: readonly string[]) {
    super(`no usable transport among ${tried.join(', ') || '(none configured)'}`);
  }
}

/** The server sent something that is not a frame of the contract; the frame was dropped. */
export class HubbubProtocolError extends Error {
  override readonly name = 'HubbubProtocolError';
  constructor(
    readonly transport: string,
    readonly frame: string,
    options?: { cause?: unknown },
  ) {
    super(`${transport}: malformed frame ${JSON.stringify(frame.slice(0, 120))}`, options);
  }
}
