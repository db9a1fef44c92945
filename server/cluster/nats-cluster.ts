import { type NatsConnection, type Subscription, connect } from '@nats-io/transport-node';
import type { AdminChannel, NodeInfo, PresenceEntry } from '../../contract/index.js';
import { BrokerUnavailableError } from '../broker/broker.js';
import type { Logger } from '../logger.js';
import type { Cluster, LocalNode, UserCommand } from './cluster.js';
import { type ChannelSample, type NodeStats, mergeChannels } from './node-stats.js';

export interface NatsClusterOptions {
  servers: string | string[];
  prefix: string;
  /** ms between heartbeats; a node is dead after three missed ones. */
  heartbeatMs?: number;
  /** Upper bound on a presence query when a node does not answer. */
  queryTimeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

interface Heartbeat {
  node: string;
  version: string;
  startedAt: number;
  /** Sent by a node that is shutting down, so the others forget it at once. */
  leaving?: boolean;
  /** Counters and busiest channels, for the admin dashboard (absent from older nodes). */
  stats?: NodeStats;
  channels?: ChannelSample[];
}

interface PresenceReply {
  node: string;
  clients: PresenceEntry[];
}

interface UserCommandReply {
  node: string;
  connections: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Membership by heartbeats on `<prefix>.nodes`, presence by scatter-gather on `<prefix>.presence`:
 * every live node answers with its own entries. A killed node stops answering at once, so its
 * clients vanish from presence immediately; it leaves the node list after 3 missed heartbeats.
 */
export class NatsCluster implements Cluster {
  readonly kind = 'nats';
  private readonly peers = new Map<string, NodeInfo>();
  /** Each peer's busiest channels from its last heartbeat. */
  private readonly peerChannels = new Map<string, ChannelSample[]>();
  private readonly subs: Subscription[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  decodeErrors = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly local: LocalNode,
    private readonly options: NatsClusterOptions,
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.subs.push(nc.subscribe(`${options.prefix}.nodes`, {
        callback: (err, msg) => {
          if (!err) this.onHeartbeat(msg.data);
        },
      }));
    this.subs.push(
      nc.subscribe(`${options.prefix}.presence`, {
        callback: (err, msg) => {
          if (err) return;
          const channel = decoder.decode(msg.data);
          const reply: PresenceReply = { node: this.local.node, clients: this.local.presence(channel) };
          msg.respond(encoder.encode(JSON.stringify(reply)));
        },
      }),
    );
    this.subs.push(
      nc.subscribe(`${options.prefix}.users`, {
        callback: (err, msg) => {
          if (err) return;
          let command: UserCommand;
          try {
            command = JSON.parse(decoder.decode(msg.data)) as UserCommand;
          } catch (e) {
            this.decodeErrors += 1;
            this.options.logger?.warn('undecodable user command', e);
            return;
          }
          void this.local.userCommand(command).then(
            (connections) => msg.respond(encoder.encode(JSON.stringify({ node: this.local.node, connections } satisfies UserCommandReply))),
            (e: unknown) => this.options.logger?.warn(`user command ${command.kind} failed`, e),
          );
        },
      }),
    );
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    this.timer.unref();
    this.beat();
  }

  static async connect(local: LocalNode, options: NatsClusterOptions): Promise<NatsCluster> {
    try {
      const nc = await connect({ servers: options.servers, name: `hubbub-cluster-${local.node}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
      return new NatsCluster(nc, local, options);
    } catch (err) {
      throw new BrokerUnavailableError(`cannot connect to NATS at ${String(options.servers)}`, { cause: err });
    }
  }

  async nodes(): Promise<NodeInfo[]> {
    const cutoff = Date.now() - 3 * this.heartbeatMs;
    const out: NodeInfo[] = [];
    for (const [id, info] of this.peers) {
      if (id === this.local.node) continue;
      if (info.lastSeen < cutoff) this.forget(id);
      else out.push(info);
    }
    const { node, version, startedAt } = this.local;
    out.push({ node, version, startedAt, lastSeen: Date.now(), ...this.local.sample().stats });
    return out.sort((a, b) => a.node.localeCompare(b.node));
  }

  /** From the heartbeats: no query on the wire, so the list is as old as the last beat of each node. */
  async channels(): Promise<AdminChannel[]> {
    const live = await this.nodes();
    const lists = live.map((n) => (n.node === this.local.node ? this.local.sample().channels : (this.peerChannels.get(n.node) ?? [])));
    return mergeChannels(lists);
  }

  private forget(node: string): void {
    this.peers.delete(node);
    this.peerChannels.delete(node);
  }

  async presence(channel: string): Promise<PresenceEntry[]> {
    const listed = await this.nodes();
    const expected = listed.length;
    let replies: AsyncIterable<{ data: Uint8Array }>;
    try {
      replies = await this.nc.requestMany(`${this.options.prefix}.presence`, encoder.encode(channel), {
        strategy: 'count',
        maxMessages: expected,
        maxWait: this.options.queryTimeoutMs ?? 1_000,
      });
    } catch (err) {
      throw new BrokerUnavailableError('presence query failed: NATS is unavailable', { cause: err });
    }
    const out: PresenceEntry[] = [];
    const answered = new Set<string>();
    try {
      for await (const msg of replies) {
        try {
          const reply = JSON.parse(decoder.decode(msg.data)) as PresenceReply;
          answered.add(reply.node);
          out.push(...reply.clients);
        } catch (err) {
          this.decodeErrors += 1;
          this.options.logger?.warn('undecodable presence reply', err);
        }
      }
    } catch (err) {
      // A timeout with fewer replies than nodes: a node died since its last heartbeat; keep what came.
      if (out.length === 0 && this.nc.isClosed()) throw new BrokerUnavailableError('presence query failed', { cause: err });
    }
    // A listed node that let the query time out is dead (kill -9 sends no goodbye): forget it now
    // rather than after three missed heartbeats, so the next query does not wait for it again.
    for (const n of listed) if (!answered.has(n.node) && n.node !== this.local.node) this.forget(n.node);
    return out.sort((a, b) => a.since - b.since || a.client.localeCompare(b.client));
  }

  /** Scatter-gather like presence: every live node applies the command to its own connections and says how many. */
  async userCommand(command: UserCommand): Promise<number> {
    const replies = await this.gather(`${this.options.prefix}.users`, JSON.stringify(command));
    let total = 0;
    for (const data of replies) {
      try {
        total += (JSON.parse(decoder.decode(data)) as UserCommandReply).connections;
      } catch (err) {
        this.decodeErrors += 1;
        this.options.logger?.warn('undecodable user command reply', err);
      }
    }
    return total;
  }

  private async gather(subject: string, payload: string): Promise<Uint8Array[]> {
    const expected = (await this.nodes()).length;
    let replies: AsyncIterable<{ data: Uint8Array }>;
    try {
      replies = await this.nc.requestMany(subject, encoder.encode(payload), {
        strategy: 'count',
        maxMessages: expected,
        maxWait: this.options.queryTimeoutMs ?? 1_000,
      });
    } catch (err) {
      throw new BrokerUnavailableError(`${subject} query failed: NATS is unavailable`, { cause: err });
    }
    const out: Uint8Array[] = [];
    try {
      for await (const msg of replies) out.push(msg.data);
    } catch (err) {
      if (out.length === 0 && this.nc.isClosed()) throw new BrokerUnavailableError(`${subject} query failed`, { cause: err });
    }
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.send({ node: this.local.node, version: this.local.version, startedAt: this.local.startedAt, leaving: true });
    for (const s of this.subs) s.unsubscribe();
    await this.nc.drain().catch((err) => this.options.logger?.warn('draining the cluster connection failed', err));
  }

  private beat(): void {
    const { stats, channels } = this.local.sample();
    this.send({ node: this.local.node, version: this.local.version, startedAt: this.local.startedAt, stats, channels });
  }

  private send(hb: Heartbeat): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(`${this.options.prefix}.nodes`, encoder.encode(JSON.stringify(hb)));
    } catch (err) {
      this.options.logger?.warn('heartbeat failed', err);
    }
  }

  private onHeartbeat(data: Uint8Array): void {
    let hb: Heartbeat;
    try {
      hb = JSON.parse(decoder.decode(data)) as Heartbeat;
    } catch (err) {
      this.decodeErrors += 1;
      this.options.logger?.warn('undecodable heartbeat', err);
      return;
    }
    if (hb.leaving) {
      this.forget(hb.node);
      return;
    }
    const known = this.peers.has(hb.node);
    this.peers.set(hb.node, { node: hb.node, version: hb.version, startedAt: hb.startedAt, lastSeen: Date.now(), ...hb.stats });
    if (hb.channels) this.peerChannels.set(hb.node, hb.channels);
    // A newcomer would otherwise learn of us only at our next beat: introduce ourselves now.
    if (!known && hb.node !== this.local.node) this.beat();
  }
}
