import type { Duplex } from 'node:stream';
import { ERROR_TABLE, type ErrorCode, errorBody } from '../../contract/index.js';
import { abortHandshake } from './upgrade-response.js';

// Requests node:http refuses before any route sees them (a malformed request line or header,
// headers past the size limit) still get the contract's error body, not a bare status line.

const CODES: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
};

/** The 'clientError' handler of the HTTP server. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // The client is gone (reset, timed out mid-request): there is nobody to answer.
  if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code = CODES[err.code ?? ''] ?? 'bad_request';
  const message = code === 'bad_request' ? `malformed HTTP request (${err.code ?? 'parse error'})` : undefined;
  abortHandshake(socket, ERROR_TABLE[code].status, errorBody(code, message));
}
