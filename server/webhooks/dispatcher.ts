import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DELIVERY_HEADER, SIGNATURE_HEADER, WEBHOOK_EVENTS, type WebhookDelivery, type WebhookEvent, type WebhookEventName } from '../../contract/index.js';
import type { SampledLog } from '../log-sampler.js';
import { VERSION } from '../version.js';
import type { WebhooksConfig } from './options.js';
import { Ring } from './ring.js';
import { signatureHeader } from './signature.js';

// Delivers a node's asynchronous events to the backend: queued in a bounded ring (the oldest is
// dropped when it is full), sent in batches with one request in flight, a failed batch retried in
// place with exponential backoff and jitter until it succeeds or runs out of attempts. One request
// at a time, retried in place, is what keeps the events of a node in the order they happened.

/**
 * What became of events, counted per event: `sent` (acknowledged with a 2xx), `failed` (in an
 * attempt that failed), `retried` (sent again), `dropped` (pushed out of a full queue),
 * `abandoned` (their batch ran out of attempts).
 */
export const WEBHOOK_OUTCOMES = ['sent', 'failed', 'retried', 'dropped', 'abandoned'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];
export type WebhookCounts = Record<WebhookEventName, Record<WebhookOutcome, number>>;

function zeroCounts(): WebhookCounts {
  return Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e, Object.fromEntries(WEBHOOK_OUTCOMES.map((o) => [o, 0]))])) as WebhookCounts;
}

export interface DispatcherDeps {
  nodeId: string;
  /** Failures are logged as samples: a receiver that is down would otherwise write a line per attempt. */
  log: Pick<SampledLog, 'warn'>;
  /** 0 ≤ random() < 1, for the jitter. */
  random?: () => number;
}

type Target = WebhooksConfig & { url: string };

export class WebhookDispatcher {
  readonly counts: WebhookCounts = zeroCounts();
  private readonly queue: Ring<WebhookEvent>;
  private inFlight = 0;
  private running: Promise<void> | undefined;
  private readonly closing = new AbortController();
  /** False once close() began: later events are not queued. */
  private accepting = true;
  private readonly random: () => number;

  constructor(
    private readonly target: Target,
    private readonly deps: DispatcherDeps,
  ) {
    this.queue = new Ring(target.queueSize);
    this.random = deps.random ?? Math.random;
  }

  /** Events queued or in the request being sent: at most queueSize + batchSize. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  enqueue(event: WebhookEvent): void {
    if (!this.accepting) return;
    const dropped = this.queue.push(event);
    if (dropped) this.count([dropped], 'dropped');
    this.kick();
  }

  /**
   * Stops taking events, sends what is queued (the disconnects of a draining node among them) for up
   * to `flushMs`, retries included, then stops: what is left then is lost (docs/webhooks.md).
   */
  async close(flushMs = 0): Promise<void> {
    this.accepting = false;
    // A batch may be in flight with nothing left queued: it is waited for too, not aborted.
    if (flushMs > 0 && (this.queue.length > 0 || this.running)) {
      this.kick();
      const deadline = new AbortController();
      await Promise.race([this.idle(), sleep(flushMs, undefined, { signal: deadline.signal, ref: false }).catch(() => undefined)]);
      deadline.abort();
    }
    this.closing.abort();
    await this.running;
  }

  /** Resolves once nothing is queued or being sent (each finished drain may start the next). */
  private async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** One drain at a time; an event queued while a finished drain was settling starts the next. */
  private kick(): void {
    if (this.running || this.closing.signal.aborted) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closing.signal.aborted) {
      const batch = this.queue.take(this.target.batchSize);
      this.inFlight = batch.length;
      try {
        await this.deliver(batch);
      } finally {
        this.inFlight = 0;
      }
    }
  }

  private async deliver(events: WebhookEvent[]): Promise<void> {
    const delivery: WebhookDelivery = { id: randomUUID(), node: this.deps.nodeId, events };
    const body = JSON.stringify(delivery);
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) this.count(events, 'retried');
      const failure = await this.post(delivery.id, body);
      if (failure === undefined) return this.count(events, 'sent');
      if (this.closing.signal.aborted) return;
      this.count(events, 'failed');
      if (attempt >= this.target.maxAttempts) {
        this.count(events, 'abandoned');
        this.deps.log.warn('webhook:abandoned', `webhook delivery ${delivery.id} of ${events.length} events abandoned after ${attempt} attempts: ${failure}`);
        return;
      }
      this.deps.log.warn('webhook:failed', `webhook delivery ${delivery.id} to ${this.target.url} failed (attempt ${attempt}): ${failure}; retrying`);
      try {
        await sleep(this.backoff(attempt), undefined, { signal: this.closing.signal, ref: false });
      } catch {
        return;
      }
    }
  }

  /** Full jitter over the upper half: min·2^(n-1), capped, times [0.5, 1). */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.target.retryMaxMs, this.target.retryMinMs * 2 ** (attempt - 1));
    return Math.round(ceiling * (0.5 + this.random() / 2));
  }

  /** Undefined when acknowledged, else why not. */
  private async post(id: string, body: string): Promise<string | undefined> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': `hubbub/${VERSION}`, [DELIVERY_HEADER]: id };
    if (this.target.secret !== undefined) headers[SIGNATURE_HEADER] = signatureHeader(this.target.secret, body, Math.floor(Date.now() / 1000));
    try {
      const res = await fetch(this.target.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.target.timeoutMs)]),
      });
      // The answer's body means nothing here: read it so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return cause ?? (err as Error).name ?? 'error';
    }
  }

  private count(events: WebhookEvent[], outcome: WebhookOutcome): void {
    for (const e of events) this.counts[e.type][outcome] += 1;
  }
}
