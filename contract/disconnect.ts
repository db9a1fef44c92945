/**
 * The one table of disconnect codes. On WebSocket they are close codes; on SSE they arrive in a
 * `disconnect` event before the server ends the stream. The range tells the client what to do:
 *   1000        normal close, initiated by the client: nothing to do
 *   1001–1015   standard WebSocket codes: reconnect unless the row says otherwise
 *   4000–4499   reconnect with backoff and recover from the last position
 *   4500–4999   terminal: do not reconnect, the same request would fail again
 */
export const DISCONNECT_TABLE = {
  normal: { code: 1000, reconnect: false, reason: 'normal closure' },
  invalid_payload: { code: 1007, reconnect: false, reason: 'a text frame is not valid UTF-8' },
  message_too_big: { code: 1009, reconnect: false, reason: 'frame exceeds the size limit' },
  shutdown: { code: 4000, reconnect: true, reason: 'server is shutting down, reconnect to another node' },
  slow_consumer: { code: 4001, reconnect: true, reason: 'client is not reading fast enough, reconnect and recover' },
  stale: { code: 4002, reconnect: true, reason: 'no pong received in time' },
  insufficient_state: { code: 4003, reconnect: true, reason: 'the server lost track of a channel, reconnect and recover' },
  token_expired: { code: 4004, reconnect: true, reason: 'the connection token expired: get a fresh one, then reconnect and recover' },
  connect_timeout: { code: 4005, reconnect: true, reason: 'no command received in time after the connection opened' },
  rate_limited: { code: 4006, reconnect: true, reason: 'too many commands: reconnect after a backoff' },
  disconnected_by_server: { code: 4500, reconnect: false, reason: 'the server disconnected this user' },
  token_invalid: { code: 4501, reconnect: false, reason: 'the token is invalid' },
  forbidden: { code: 4502, reconnect: false, reason: 'the connection is not allowed' },
} as const satisfies Record<string, { code: number; reconnect: boolean; reason: string }>;

export type DisconnectName = keyof typeof DISCONNECT_TABLE;

/** For a close code not in the table, the range decides. */
export function shouldReconnect(code: number): boolean {
  for (const row of Object.values(DISCONNECT_TABLE)) if (row.code === code) return row.reconnect;
  if (code === 1000) return false;
  if (code >= 4500 && code <= 4999) return false;
  return true;
}

/**
 * RFC 6455's "abnormal closure": never sent on the wire, it is what a client reports when a
 * connection ended without a close code (a failed connect, a dropped socket). Reconnectable.
 */
export const ABNORMAL_CLOSURE = 1006;
