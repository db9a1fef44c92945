import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../../contract/index.js';

// ws answers a handshake it cannot accept with its own text/html page; checking the same headers
// first lets every refused upgrade carry the contract's error body (RFC 6455 section 4.2.1).

const KEY = /^[+/0-9A-Za-z]{22}==$/;

export interface HandshakeProblem {
  code: ErrorCode;
  message: string;
  headers?: Record<string, string>;
}

export function handshakeProblem(req: IncomingMessage): HandshakeProblem | undefined {
  if (req.method !== 'GET') return { code: 'method_not_allowed', message: 'a WebSocket handshake is a GET request' };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    return { code: 'bad_request', message: 'the Upgrade header must be websocket' };
  }
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    // The RFC's answer to an unsupported version: 426 with the versions the server speaks.
    return { code: 'upgrade_required', message: 'unsupported Sec-WebSocket-Version: use 13', headers: { 'Sec-WebSocket-Version': '13, 8' } };
  }
  if (!KEY.test(req.headers['sec-websocket-key'] ?? '')) {
    return { code: 'bad_request', message: 'missing or invalid Sec-WebSocket-Key header' };
  }
  return undefined;
}
