// The realtime client's public surface, the same in every host: client/browser.ts (the browser
// bundle) exports it as is, client/index.ts (Node) with a Hubbub that defaults to the `eventsource`
// package for SSE. Zod-free at run time: the typed publisher is its own entry (client/publisher.ts).
export { Hubbub, type ConnectionState, type HubbubEvents } from './hubbub.js';
export type { HubbubOptions } from './options.js';
export {
  Subscription,
  type EventHandler,
  type SubscribeOptions,
  type SubscriptionStateEvent,
  type SubscriptionStatus,
  type UnsubscribeReason,
} from './subscription.js';
export type { PublishOptions, PublishResult } from './publish.js';
export {
  HubbubDisconnectError,
  HubbubError,
  HubbubNoTransportError,
  HubbubProtocolError,
  type HubbubErrorCode,
  type HubbubErrorIssue,
} from './errors.js';
export { Emitter } from './emitter.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { DEFAULT_TRANSPORTS, TRANSPORTS, pollTransport, sseTransport, websocketTransport } from './transports/index.js';
export type {
  ClientTransport,
  CloseInfo,
  EventSourceConstructor,
  EventSourceLike,
  HeaderEventSourceConstructor,
  FetchLike,
  PublishCommand,
  Timers,
  TransportCapabilities,
  TransportContext,
  HostEnv,
  TransportFactory,
  TransportHandlers,
  TransportName,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
export type { Publication, SubscribeResult } from '../contract/publication.js';
export type { StreamPosition } from '../contract/position.js';
