// The one table of error codes, zod-free and without its messages, so the realtime client maps
// codes and statuses without carrying zod or the text (error-messages.ts joins the messages to it
// as ERROR_TABLE; errors.ts builds the schemas on both).

/**
 * Every error code with its HTTP status and `retryable`: the same request may succeed later
 * without being changed. HTTP responses, WebSocket error replies, the OpenAPI document,
 * docs/protocol.md and the client's error class all derive from it.
 */
export const ERROR_STATUS = {
  bad_request: { status: 400, retryable: false },
  invalid_json: { status: 400, retryable: false },
  data_too_deep: { status: 400, retryable: false },
  invalid_channel: { status: 400, retryable: false },
  invalid_cursor: { status: 400, retryable: false },
  invalid_frame: { status: 400, retryable: false },
  too_many_channels: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  token_invalid: { status: 401, retryable: false },
  token_expired: { status: 401, retryable: false },
  admin_login_failed: { status: 401, retryable: false },
  admin_session_required: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  publish_rejected: { status: 403, retryable: false },
  not_found: { status: 404, retryable: false },
  method_not_allowed: { status: 405, retryable: false },
  already_subscribed: { status: 409, retryable: false },
  not_subscribed: { status: 409, retryable: false },
  cancelled: { status: 409, retryable: false },
  unrecoverable_position: { status: 409, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  upgrade_required: { status: 426, retryable: false },
  rate_limited: { status: 429, retryable: true },
  headers_too_large: { status: 431, retryable: false },
  internal: { status: 500, retryable: true },
  unavailable: { status: 503, retryable: true },
  webhook_unavailable: { status: 503, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_STATUS;
