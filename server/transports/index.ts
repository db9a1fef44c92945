import type { TransportFactory } from './transport.js';
import { createPollTransport } from './poll.js';
import { createSseTransport } from './sse.js';
import { createWebSocketTransport } from './websocket.js';

/** Every transport the server speaks; each declares its contract route and capabilities. */
export const TRANSPORTS: readonly TransportFactory[] = [createWebSocketTransport, createSseTransport, createPollTransport];
