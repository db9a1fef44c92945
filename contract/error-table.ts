import { MAX_DATA_DEPTH } from './json-data.js';

// Zod-free, so the realtime client maps codes without carrying zod; errors.ts builds the schemas on it.

/**
 * The one table of error codes. HTTP responses, WebSocket error replies, the OpenAPI document,
 * docs/protocol.md and the client's error class all derive from it.
 * `retryable`: the same request may succeed later without being changed.
 */
export const ERROR_TABLE = {
  bad_request: { status: 400, retryable: false, message: 'The request does not match the contract' },
  invalid_json: { status: 400, retryable: false, message: 'The body is not valid JSON' },
  data_too_deep: {
    status: 400,
    retryable: false,
    message: `The data nests arrays and objects more than ${MAX_DATA_DEPTH} levels deep`,
  },
  invalid_channel: { status: 400, retryable: false, message: 'A channel name is not valid' },
  invalid_cursor: { status: 400, retryable: false, message: 'The cursor or position is malformed' },
  invalid_frame: { status: 400, retryable: false, message: 'The WebSocket frame is not a valid command' },
  too_many_channels: { status: 400, retryable: false, message: 'Too many channels for one connection or request' },
  unauthorized: { status: 401, retryable: false, message: 'A valid API key is required: Authorization: Bearer <key>' },
  token_invalid: { status: 401, retryable: false, message: 'The token is malformed, not signed by a trusted key, or not valid for this use' },
  token_expired: {
    status: 401,
    retryable: false,
    message: 'The token has expired: get a fresh token from your backend and repeat the request with it',
  },
  admin_login_failed: { status: 401, retryable: false, message: 'The admin password or admin key is wrong' },
  admin_session_required: {
    status: 401,
    retryable: false,
    message: 'Sign in to the admin dashboard: the session cookie is missing, expired or not valid',
  },
  forbidden: { status: 403, retryable: false, message: 'The credentials do not allow this operation' },
  not_found: { status: 404, retryable: false, message: 'No such endpoint' },
  method_not_allowed: { status: 405, retryable: false, message: 'The endpoint does not accept this method' },
  already_subscribed: { status: 409, retryable: false, message: 'The connection is already subscribed to this channel' },
  not_subscribed: { status: 409, retryable: false, message: 'The connection is not subscribed to this channel' },
  cancelled: {
    status: 409,
    retryable: false,
    message: 'The subscribe was cancelled by an unsubscribe of the same channel before it completed',
  },
  unrecoverable_position: {
    status: 409,
    retryable: false,
    message: 'The position is no longer in history (epoch changed or offset too old)',
  },
  payload_too_large: { status: 413, retryable: false, message: 'The body or message exceeds the size limit' },
  unsupported_media_type: { status: 415, retryable: false, message: 'The body must be application/json' },
  upgrade_required: { status: 426, retryable: false, message: 'This endpoint speaks WebSocket only' },
  rate_limited: { status: 429, retryable: true, message: 'Too many requests: slow down and retry after the time given' },
  headers_too_large: { status: 431, retryable: false, message: 'The request line or headers exceed the size limit' },
  internal: { status: 500, retryable: true, message: 'Internal server error' },
  unavailable: { status: 503, retryable: true, message: 'The server is shutting down or its broker is unavailable' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;
export const ERROR_CODES = Object.keys(ERROR_TABLE) as [ErrorCode, ...ErrorCode[]];
