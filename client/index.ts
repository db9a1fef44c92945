// The Hubbub client: realtime subscriptions (browser and Node) and the backend publisher.
export { Hubbub, type ConnectionState, type HubbubEvents } from './hubbub.js';
export type { HubbubOptions } from './options.js';
export {
  Subscription,
  type SubscribeOptions,
  type SubscriptionStateEvent,
  type SubscriptionStatus,
  type UnsubscribeReason,
} from './subscription.js';
export {
  createPublisher,
  type BroadcastOptions,
  type BroadcastResult,
  type ChannelsResult,
  type HistoryQuery,
  type HistoryResult,
  type InfoResult,
  type PublishOptions,
  type PublishResult,
  type Publisher,
  type PublisherOptions,
} from './publisher.js';
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
export { FetchEventSource, type FetchEventSourceInit } from './fetch-event-source.js';
export { SseParser, type SseEvent, type SseParserHandlers } from './sse-parser.js';
export { DEFAULT_TRANSPORTS, TRANSPORTS, pollTransport, sseTransport, websocketTransport } from './transports/index.js';
export type {
  ClientTransport,
  CloseInfo,
  EventSourceConstructor,
  EventSourceLike,
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
