import type { JsonData, Publication, SubscribeResult } from '../../contract/index.js';
import type { Codec } from './codec.js';

/** Who a long-lived connection is, for presence. Transient subscribers (a long-poll) have none. */
export interface ClientIdentity {
  readonly client: string;
  /** null for an anonymous connection: it shows in presence but never causes join/leave events. */
  readonly user: string | null;
  readonly transport: string;
  /** Public info about the user in this channel's presence (from the token). */
  info?(channel: string): JsonData | undefined;
  /** Left out of presence and join/leave events (an admin's live tail watches unseen). */
  readonly hidden?: boolean;
}

/** One subscription target: a connection of some transport. The hub never knows which. */
export interface Subscriber<F = unknown> {
  readonly codec: Codec<F>;
  readonly identity?: ClientIdentity | undefined;
  /** Called once per subscription, before its first publication. */
  onSubscribed(result: SubscribeResult): void;
  /** `frame` is `codec.encode(pub)`, shared with every other subscriber of the same transport. */
  onPublication(frame: F, pub: Publication): void;
  /**
   * The hub cannot keep this channel gap-free for the subscriber (history moved on, epoch changed):
   * drop it with a reconnect-and-recover code so the client resubscribes from its own position.
   */
  onUnrecoverable(channel: string): void;
}
