import type { Context } from 'koa';
import { type Publication, type StreamPosition, type SubscribeResult, formatCursor } from '../../contract/index.js';
import { RESPONDED } from '../http/adapter.js';
import { HubbubError } from '../errors.js';
import { SubscriptionAbortedError } from '../hub/hub.js';
import type { Subscriber } from '../hub/subscriber.js';
import { parseRealtimeRequest } from './realtime-request.js';
import type { Transport, TransportEnv } from './transport.js';

/** Publications in one poll response at most; the rest waits in history for the next poll. */
const MAX_BATCH = 1000;

/**
 * One waiting poll request. It subscribes through the hub like any connection, so the backlog
 * since the cursor and live publications merge without gap; then it answers and forgets everything.
 */
class PollRequest implements Subscriber<string> {
  readonly positions: Array<StreamPosition | undefined>;
  readonly results: SubscribeResult[] = [];
  readonly frames: string[] = [];
  private readonly index = new Map<string, number>();
  private full = new Set<string>();
  done = false;
  private wake: (() => void) | undefined;
  /** An answer is scheduled for the next turn; later publications of the burst join it. */
  private answering = false;

  constructor(
    readonly codec: Subscriber<string>['codec'],
    readonly channels: string[],
  ) {
    this.positions = channels.map(() => undefined);
    channels.forEach((c, i) => this.index.set(c, i));
  }

  onSubscribed(result: SubscribeResult): void {
    this.results[this.index.get(result.channel)!] = result;
    this.positions[this.index.get(result.channel)!] = result;
  }

  onPublication(frame: string, pub: Publication): void {
    // Once a channel's batch is cut, its cursor must stay at the last publication sent.
    if (this.done || this.full.has(pub.channel)) return;
    if (this.frames.length >= MAX_BATCH) {
      this.full.add(pub.channel);
      this.settle();
      return;
    }
    this.frames.push(frame);
    this.positions[this.index.get(pub.channel)!] = pub;
    // Answer on the next turn so a burst published together leaves in one response.
    if (this.wake && !this.answering) {
      this.answering = true;
      setImmediate(() => this.settle());
    }
  }

  onUnrecoverable(): void {
    this.settle();
  }

  /** Every channel got its subscribe result (none was cut short by a shutdown or a client leaving). */
  subscribedAll(): boolean {
    return this.channels.every((_, i) => this.results[i] !== undefined);
  }

  hasNews(): boolean {
    return this.frames.length > 0 || this.results.some((r) => !r.recovered);
  }

  waitUntilSettled(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  settle(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  body(): string {
    return `{"cursor":${JSON.stringify(formatCursor(this.positions))},"subscriptions":${JSON.stringify(this.results)},"publications":[${this.frames.join(',')}]}`;
  }
}

/** Long-poll: stateless; the cursor in the request is all any node needs to answer it. */
export function createPollTransport(env: TransportEnv): Transport<'poll'> {
  const { hub, config } = env;
  const codec = hub.codec('poll', (pub: Publication) => JSON.stringify(pub));
  const waiting = new Set<PollRequest>();

  async function serve(ctx: Context, poll: PollRequest, since: Array<StreamPosition | undefined>, timeoutMs: number) {
    const onClose = () => poll.settle();
    ctx.req.on('close', onClose);
    let timer: NodeJS.Timeout | undefined;
    try {
      for (let i = 0; i < poll.channels.length; i++) {
        try {
          await hub.subscribe(poll.channels[i]!, poll, since[i]);
        } catch (err) {
          if (!(err instanceof SubscriptionAbortedError)) throw err;
        }
      }
      if (!poll.hasNews() && !env.isClosing() && !ctx.req.destroyed) {
        waiting.add(poll);
        const settled = poll.waitUntilSettled();
        timer = setTimeout(() => poll.settle(), timeoutMs);
        await settled;
      }
    } finally {
      poll.done = true;
      waiting.delete(poll);
      if (timer) clearTimeout(timer);
      ctx.req.off('close', onClose);
      for (const channel of poll.channels) hub.unsubscribe(channel, poll);
    }
  }

  return {
    name: 'poll',
    route: 'poll',
    capabilities: { bidirectional: false, streaming: false, upgrade: false },
    async handle({ query }, ctx) {
      if (env.isClosing()) throw new HubbubError('unavailable', 'the server is shutting down');
      const request = parseRealtimeRequest(query.channels, query.cursor, config.maxChannels);
      const timeoutMs = Math.min(query.timeout ?? Number.POSITIVE_INFINITY, config.pollTimeout * 1000);
      const poll = new PollRequest(codec, request.channels);
      await serve(ctx, poll, request.since, timeoutMs);
      if (!poll.subscribedAll()) {
        // A subscription was cut short (shutdown, client gone): answer with the request's own cursor.
        throw new HubbubError('unavailable', 'the poll could not be served, retry');
      }
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = poll.body();
      return RESPONDED;
    },
    async shutdown() {
      for (const p of [...waiting]) p.settle();
    },
    get connections() {
      return waiting.size;
    },
  };
}
