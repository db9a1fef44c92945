import { ERROR_STATUS, type ErrorCode } from './error-table.js';
import { MAX_DATA_DEPTH } from './json-data.js';

// What each error code says (the server's default message), kept apart from error-table.ts so the
// browser client's bundle does not carry the text; ERROR_TABLE is both joined, for the server,
// the OpenAPI and AsyncAPI documents and docs/protocol.md.

export const ERROR_MESSAGES = {
  bad_request: 'The request does not match the contract',
  invalid_json: 'The body is not valid JSON',
  data_too_deep: `The data nests arrays and objects more than ${MAX_DATA_DEPTH} levels deep`,
  invalid_channel: 'A channel name is not valid',
  invalid_cursor: 'The cursor or position is malformed',
  invalid_frame: 'The WebSocket frame is not a valid command',
  too_many_channels: 'Too many channels for one connection or request',
  unauthorized: 'A valid API key is required: Authorization: Bearer <key>',
  token_invalid: 'The token is malformed, not signed by a trusted key, or not valid for this use',
  token_expired: 'The token has expired: get a fresh token from your backend and repeat the request with it',
  admin_login_failed: 'The admin password or admin key is wrong',
  admin_session_required: 'Sign in to the admin dashboard: the session cookie is missing, expired or not valid',
  forbidden: 'The credentials do not allow this operation',
  publish_rejected: "The app's backend refused this publication (its publish proxy said no)",
  not_found: 'No such endpoint',
  method_not_allowed: 'The endpoint does not accept this method',
  already_subscribed: 'The connection is already subscribed to this channel',
  not_subscribed: 'The connection is not subscribed to this channel',
  cancelled: 'The subscribe was cancelled by an unsubscribe of the same channel before it completed',
  unrecoverable_position: 'The position is no longer in history (epoch changed or offset too old)',
  payload_too_large: 'The body or message exceeds the size limit',
  unsupported_media_type: 'The body must be application/json',
  upgrade_required: 'This endpoint speaks WebSocket only',
  rate_limited: 'Too many requests: slow down and retry after the time given',
  headers_too_large: 'The request line or headers exceed the size limit',
  internal: 'Internal server error',
  unavailable: 'The server is shutting down or its broker is unavailable',
  webhook_unavailable: "The app's backend did not answer the publish proxy in time, or answered wrongly: nothing was published",
} as const satisfies Record<ErrorCode, string>;

/** Each code's status, `retryable` and message. */
export const ERROR_TABLE = Object.fromEntries(
  Object.entries(ERROR_STATUS).map(([code, row]) => [code, { ...row, message: ERROR_MESSAGES[code as ErrorCode] }]),
) as { readonly [C in ErrorCode]: (typeof ERROR_STATUS)[C] & { readonly message: (typeof ERROR_MESSAGES)[C] } };

export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];
