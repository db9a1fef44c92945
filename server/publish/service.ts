import { type JsonData, type Publication, channelNamespace } from '../../contract/index.js';
import type { IngestDoor } from '../../contract/ingest.js';
import { HubbubError, toHubbubError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { ApiCaller } from '../session/api-keys.js';
import type { Session } from '../session/session.js';

// The one publish service. Every door into publishing — the REST API, a WebSocket `publish`
// command, the client publish endpoint, and the ingest listeners to come — hands its already
// parsed request here: permissions of the caller, size limit, stamping, idempotency (in the
// broker) and counting happen once, in this order, and no door re-implements any of them.

export interface PublishRequest {
  channel: string;
  data: JsonData;
  event?: string | undefined;
  tags?: Record<string, string> | undefined;
  idempotencyKey?: string | undefined;
}

/** Who publishes: a backend with an API key, a client connection with its session, or an ingest door. */
export type PublishCaller =
  | { kind: 'backend'; key: ApiCaller }
  /** `subscribed`: the connection holds a live subscription to the channel (the WebSocket door). */
  | { kind: 'client'; session: Session; subscribed: boolean }
  /**
   * A trusted local door (docs/ingest.md): whoever reached it was already let in by the door's own
   * guard — the socket file's mode and owner, loopback or an HMAC, the NATS account. `namespaces`
   * (--ingest-namespaces) narrows where doors may publish; empty = everywhere.
   */
  | { kind: 'ingest'; door: IngestDoor; namespaces: readonly string[] };

export type BroadcastItem = { channel: string; epoch: string; offset: number } | { channel: string; error: ReturnType<HubbubError['toBody']> };

/** What happens around a client publication besides the checks here: the webhooks' publish proxy and publish event. */
export interface ClientPublishHooks {
  /** The data to store (the client's, or a rewrite); throws the contract error that refuses it. */
  beforeClientPublish(session: Session, req: PublishRequest): Promise<JsonData>;
  clientPublished(pub: Publication): void;
}

export interface PublishCounters {
  accepted: number;
  refused: Partial<Record<string, number>>;
}

export class PublishService {
  readonly counters: PublishCounters = { accepted: 0, refused: {} };

  constructor(
    private readonly hub: Hub,
    private readonly options: { maxMessageBytes: number },
    private readonly hooks?: ClientPublishHooks,
  ) {}

  async publish(caller: PublishCaller, req: PublishRequest): Promise<Publication> {
    try {
      this.authorize(caller, req.channel);
      this.checkSize(req.data);
      const data = caller.kind === 'client' && this.hooks ? await this.hooks.beforeClientPublish(caller.session, req) : req.data;
      if (data !== req.data) this.checkSize(data);
      const pub = await this.hub.publish(req.channel, data, {
        event: req.event,
        tags: req.tags,
        idempotencyKey: req.idempotencyKey,
        publisher: caller.kind === 'client' ? stamp(caller.session) : undefined,
      });
      this.counters.accepted += 1;
      if (caller.kind === 'client') this.hooks?.clientPublished(pub);
      return pub;
    } catch (err) {
      throw this.refused(err);
    }
  }

  /** Every channel is authorized before anything is published: a scoped key outside its namespaces publishes nothing. */
  async broadcast(caller: PublishCaller, req: Omit<PublishRequest, 'channel'> & { channels: string[] }): Promise<BroadcastItem[]> {
    try {
      for (const channel of req.channels) this.authorize(caller, channel);
      this.checkSize(req.data);
    } catch (err) {
      throw this.refused(err);
    }
    const publisher = caller.kind === 'client' ? stamp(caller.session) : undefined;
    return Promise.all(
      req.channels.map(async (channel): Promise<BroadcastItem> => {
        try {
          const pub = await this.hub.publish(channel, req.data, { event: req.event, tags: req.tags, idempotencyKey: req.idempotencyKey, publisher });
          this.counters.accepted += 1;
          return { channel, epoch: pub.epoch, offset: pub.offset };
        } catch (err) {
          return { channel, error: this.refused(err).toBody() };
        }
      }),
    );
  }

  private authorize(caller: PublishCaller, channel: string): void {
    if (caller.kind === 'backend') {
      const missing = caller.key.missingChannel(channel);
      if (missing) throw new HubbubError('forbidden', missing);
    } else if (caller.kind === 'ingest') {
      if (caller.namespaces.length > 0 && !caller.namespaces.includes(channelNamespace(channel))) {
        throw new HubbubError('forbidden', `the ${caller.door} ingest door may publish only to the namespaces ${caller.namespaces.join(', ')}`);
      }
    } else {
      caller.session.authorizePublish(channel, caller.subscribed);
    }
  }

  /** `data` passed the contract's JsonData (at most MAX_DATA_DEPTH deep), so this recursive stringify stays shallow. */
  private checkSize(data: JsonData): void {
    const size = Buffer.byteLength(JSON.stringify(data));
    const limit = this.options.maxMessageBytes;
    if (size > limit) throw new HubbubError('payload_too_large', `data is ${size} bytes, the limit is ${limit}`);
  }

  private refused(err: unknown): HubbubError {
    const e = toHubbubError(err);
    this.counters.refused[e.code] = (this.counters.refused[e.code] ?? 0) + 1;
    return e;
  }
}

function stamp(session: Session): NonNullable<Publication['publisher']> {
  const info = session.identity.info;
  return info === undefined ? { user: session.user ?? '', client: session.client } : { user: session.user ?? '', client: session.client, info };
}
