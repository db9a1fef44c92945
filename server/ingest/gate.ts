import type { IngestDoor, IngestOutcome, IngestReply } from '../../contract/ingest.js';
import type { Core } from '../core.js';
import { HubbubError, toHubbubError } from '../errors.js';
import type { PublishCaller } from '../publish/service.js';
import { errorReply, parseIngest } from './parse.js';

// What every ingest door does with one message once its own framing is undone: parse, hand it to
// the one publish service as an ingest caller, count the outcome and log a sample of the failures.
// The doors differ only in framing, their own guard (HMAC) and how a reply travels back.

export class IngestGate {
  private readonly caller: PublishCaller;

  constructor(
    private readonly core: Core,
    readonly door: IngestDoor,
  ) {
    this.caller = { kind: 'ingest', door, namespaces: core.config.ingestNamespaces };
  }

  /** Parses and publishes one message; never throws. */
  async publish(text: string, channel?: string): Promise<IngestReply> {
    const parsed = parseIngest(text, channel);
    if (!parsed.ok) return this.failed('malformed', parsed.error);
    try {
      const pub = await this.core.publishing.publish(this.caller, parsed.message);
      this.core.metrics.ingested(this.door, 'accepted');
      return { channel: pub.channel, epoch: pub.epoch, offset: pub.offset };
    } catch (err) {
      return this.failed('refused', toHubbubError(err));
    }
  }

  /** Counts and logs a message that went no further, and gives its reply. */
  failed(outcome: Exclude<IngestOutcome, 'accepted'>, error: HubbubError): IngestReply {
    this.core.metrics.ingested(this.door, outcome);
    if (error.code === 'internal') this.core.logger.error(`ingest ${this.door}: publish failed`, error.cause ?? error);
    // Sampled: a producer sending garbage in a loop must not flood the log.
    else this.core.clientErrors.warn(`ingest_${this.door}_${outcome}`, `ingest ${this.door}: ${outcome} message (${error.code}: ${error.message})`);
    return errorReply(error);
  }

  oversize(what: string, limit: number): IngestReply {
    return this.failed('oversize', new HubbubError('payload_too_large', `${what} exceeds the limit of ${limit} bytes`));
  }
}
