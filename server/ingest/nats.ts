import { type Msg, type NatsConnection, type Subscription, connect } from '@nats-io/transport-node';
import type { Listener } from '../app.js';
import { BrokerUnavailableError } from '../broker/broker.js';
import type { Logger } from '../logger.js';
import type { IngestGate } from './gate.js';

// The NATS door (cluster mode, --ingest-nats): any NATS client publishes a request to
// `<prefix>.ingest.<channel>` and gets the ingest reply (position or error). The nodes share one
// queue group, so each request is published once, by whichever node takes it. Who may publish to
// the subject is the NATS operator's decision (accounts, subject permissions). Its own connection,
// drained on stop, so ingest traffic never waits behind the broker's.

export interface NatsIngestOptions {
  servers: string[];
  prefix: string;
  nodeId: string;
}

export class NatsIngest implements Listener {
  readonly name = 'ingest-nats';
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;

  constructor(
    private readonly gate: IngestGate,
    private readonly options: NatsIngestOptions,
    private readonly logger: Logger,
  ) {}

  /** `<prefix>.ingest.`: the channel is the rest of the subject, dots and all. */
  get subjectPrefix(): string {
    return `${this.options.prefix}.ingest.`;
  }

  async start(): Promise<void> {
    try {
      this.nc = await connect({
        servers: this.options.servers,
        name: `hubbub-${this.options.nodeId}-ingest`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        noAsyncTraces: true,
      });
    } catch (err) {
      throw new BrokerUnavailableError(`ingest: cannot connect to NATS at ${this.options.servers.join(',')}`, { cause: err });
    }
    const subject = `${this.subjectPrefix}>`;
    this.sub = this.nc.subscribe(subject, {
      queue: `${this.options.prefix}-ingest`,
      callback: (err, msg) => {
        if (err) this.logger.warn('ingest nats: subscription error', err);
        else this.receive(msg);
      },
    });
    // The subscription is known to the server before start() returns: a request sent right after is taken.
    await this.nc.flush();
    this.logger.info(`ingest: NATS requests on ${subject}`);
  }

  async stop(): Promise<void> {
    const nc = this.nc;
    if (!nc || nc.isClosed()) return;
    this.nc = undefined;
    // Drain: requests already delivered to us are answered before the connection closes.
    await nc.drain().catch((err: unknown) => this.logger.warn('ingest nats: drain failed', err));
  }

  private receive(msg: Msg): void {
    const channel = msg.subject.slice(this.subjectPrefix.length);
    void this.gate.publish(msg.string(), channel).then((reply) => {
      // A plain publish (no reply subject) is published all the same, at most once.
      if (msg.reply) msg.respond(JSON.stringify(reply));
    });
  }
}
