import type { Publication, SubscribeResult } from '../contract/publication.js';
import type { TransportName } from './types.js';

// What the hub tells the app: its connection's life, and every publication of every channel.

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'closed';

export type HubbubEvents = {
  state: [state: ConnectionState, previous: ConnectionState];
  connecting: [info: { attempt: number }];
  connected: [info: { transport: TransportName; client?: string; node?: string }];
  disconnected: [info: { code: number; reason: string; reconnectIn: number }];
  closed: [info: { error?: Error }];
  /** The transport in use changed (first connect, or negotiation/reconnect landed on another one). */
  transport: [name: TransportName, previous: TransportName | undefined];
  /** Connection-level errors (a getToken that failed included), and channel errors of subscriptions without their own onError. */
  error: [error: Error];
  /**
   * Every publication the client delivers, of every channel: the app's (after their onPublication)
   * and the server-side ones the server subscribed on its own (the token's `channels`, the server API).
   */
  publication: [publication: Publication];
  /** Every (re)subscribe of every channel, server-side ones included; `recovered: false` announces a possible gap. */
  subscribed: [result: SubscribeResult];
};
