import { randomUUID } from 'node:crypto';
import { type ChannelEventName, type JsonData, type Publication, type WebhookEvent, channelNamespace } from '../../contract/index.js';
import type { SampledLog } from '../log-sampler.js';
import type { ClientPublishHooks } from '../publish/service.js';
import type { NamespaceOptions } from '../session/namespaces.js';
import type { Session } from '../session/session.js';
import type { ConnectionEnd, ConnectionEvents } from '../session/sessions.js';
import { type WebhookCounts, WebhookDispatcher } from './dispatcher.js';
import type { WebhooksConfig } from './options.js';
import { type ProxyOutcome, PublishProxy } from './publish-proxy.js';

// The webhooks of one node (docs/webhooks.md): turns what the session layer, the hub and the publish
// service report into events for the dispatcher, and runs the publish proxy. Which channel events a
// namespace sends, and its proxy, are read from the namespace rules in force at each event, so a
// config reload changes them; the endpoint itself is fixed at start.

export interface WebhooksDeps {
  nodeId: string;
  /** The options of a channel's namespace, as in force now. */
  namespace(name: string): NamespaceOptions;
  log: Pick<SampledLog, 'warn'>;
}

/** What the metrics read at scrape time. */
export interface WebhookStats {
  events: WebhookCounts | undefined;
  /** Events waiting on this node (queued and in flight). */
  pending: number;
  proxy: Readonly<Record<ProxyOutcome, number>>;
}

export class Webhooks implements ConnectionEvents, ClientPublishHooks {
  private readonly dispatcher: WebhookDispatcher | undefined;
  private readonly proxy: PublishProxy;
  private readonly connectionEvents: ReadonlySet<string>;

  constructor(
    config: WebhooksConfig | undefined,
    private readonly deps: WebhooksDeps,
  ) {
    const url = config?.url;
    this.dispatcher = config && url !== undefined ? new WebhookDispatcher({ ...config, url }, { nodeId: deps.nodeId, log: deps.log }) : undefined;
    this.proxy = new PublishProxy({ nodeId: deps.nodeId, secret: config?.secret, log: deps.log });
    this.connectionEvents = new Set(config?.events ?? []);
  }

  stats(): WebhookStats {
    return { events: this.dispatcher?.counts, pending: this.dispatcher?.pending ?? 0, proxy: this.proxy.counts };
  }

  connected(s: Session): void {
    if (!this.connectionEvents.has('connect')) return;
    const info = s.identity.info;
    this.send({ type: 'connect', ...this.base(), ...who(s), ...(info === undefined ? {} : { info }) });
  }

  disconnected(s: Session, end: ConnectionEnd, durationMs: number): void {
    if (!this.connectionEvents.has('disconnect')) return;
    const { by, code, reason } = end;
    this.send({ type: 'disconnect', ...this.base(), ...who(s), by, ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }), durationMs });
  }

  /** The hub's occupancy callback. */
  occupancy(channel: string, occupied: boolean): void {
    const type = occupied ? 'occupied' : 'vacated';
    if (this.wants(channel, type)) this.send({ type, ...this.base(), channel });
  }

  async beforeClientPublish(session: Session, req: { channel: string; data: JsonData; tags?: Record<string, string> | undefined }): Promise<JsonData> {
    const proxy = this.deps.namespace(channelNamespace(req.channel)).publishProxy;
    return proxy ? this.proxy.check(proxy, session, req) : req.data;
  }

  clientPublished(pub: Publication): void {
    if (this.wants(pub.channel, 'publish')) this.send({ type: 'publish', ...this.base(), channel: pub.channel, publication: pub });
  }

  /** Sends what is queued for up to `flushMs`, then stops (WebhookDispatcher.close). */
  async close(flushMs = 0): Promise<void> {
    await this.dispatcher?.close(flushMs);
  }

  private wants(channel: string, event: ChannelEventName): boolean {
    return this.dispatcher !== undefined && this.deps.namespace(channelNamespace(channel)).webhooks.includes(event);
  }

  private base(): { id: string; time: number; node: string } {
    return { id: randomUUID(), time: Date.now(), node: this.deps.nodeId };
  }

  private send(event: WebhookEvent): void {
    this.dispatcher?.enqueue(event);
  }
}

function who(s: Session): { client: string; user: string; transport: string } {
  return { client: s.client, user: s.user ?? '', transport: s.transport };
}
