import type { TransportFactory, TransportName } from '../types.js';
import { pollTransport } from './poll.js';
import { sseTransport } from './sse.js';
import { websocketTransport } from './websocket.js';

/** The registry: the core looks transports up here by name and reads their capabilities as data. */
export const TRANSPORTS: Readonly<Record<TransportName, TransportFactory>> = {
  websocket: websocketTransport,
  sse: sseTransport,
  poll: pollTransport,
};

/** Negotiation order when the app does not set one: the most capable first. */
export const DEFAULT_TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'poll'];

export { pollTransport, sseTransport, websocketTransport };
