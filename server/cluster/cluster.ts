import type { AdminChannel, NodeInfo, PresenceEntry } from '../../contract/index.js';
import { type NodeSample, mergeChannels } from './node-stats.js';

/**
 * What a node needs to know about the other nodes: which are alive, and who is subscribed
 * where. Separate from the Broker (which carries publications and history) so that a
 * deployment's membership never depends on the message path.
 */
export interface Cluster {
  readonly kind: string;
  /** Live nodes, this one included. */
  nodes(): Promise<NodeInfo[]>;
  /** Channels with subscribers on any live node (each node's busiest, see MAX_SAMPLED_CHANNELS). */
  channels(): Promise<AdminChannel[]>;
  /** Subscribers of a channel on every live node. */
  presence(channel: string): Promise<PresenceEntry[]>;
  /** Runs a user command on every live node; resolves with the number of connections it reached. */
  userCommand(command: UserCommand): Promise<number>;
  close(): Promise<void>;
}

/** Server API commands on a user's live connections, wherever they are connected. */
export type UserCommand =
  | { kind: 'disconnect'; user: string }
  | { kind: 'subscribe'; user: string; channel: string }
  | { kind: 'unsubscribe'; user: string; channel: string };

export interface LocalNode {
  node: string;
  version: string;
  startedAt: number;
  /** This node's own presence entries for a channel (from the hub). */
  presence(channel: string): PresenceEntry[];
  /** Applies a user command to this node's connections; resolves with how many it reached. */
  userCommand(command: UserCommand): Promise<number>;
  /** This node's counters and busiest channels (sent with each heartbeat). */
  sample(): NodeSample;
}

/** One node alone: everything is local. */
export class SingleNodeCluster implements Cluster {
  readonly kind = 'single';
  constructor(private readonly local: LocalNode) {}

  async nodes(): Promise<NodeInfo[]> {
    const { node, version, startedAt } = this.local;
    return [{ node, version, startedAt, lastSeen: Date.now(), ...this.local.sample().stats }];
  }

  async channels(): Promise<AdminChannel[]> {
    return mergeChannels([this.local.sample().channels]);
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    return this.local.presence(channel);
  }

  userCommand(command: UserCommand): Promise<number> {
    return this.local.userCommand(command);
  }

  async close(): Promise<void> {}
}
