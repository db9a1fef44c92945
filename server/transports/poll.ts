import type { Context } from 'koa';
import { type Publication, type StreamPosition, type SubscribeResult, formatCursor } from '../../contract/index.js';
import { RESPONDED } from '../http/adapter.js';
import { HubbubError } from '../errors.js';
import { SubscriptionAbortedError } from '../hub/hub.js';
import type { Subscriber } from '../hub/subscriber.js';
import type { Session } from '../session/session.js';
import { openRealtimeRequest } from './realtime-request.js';
import type { Transport, TransportEnv } from './transport.js';

/** Publications in one poll response at most; the rest waits in history for the next poll. */
const MAX_BATCH = 1000;

/**
 * One waiting poll request. It subscribes through the hub like any connection, so the backlog
 * since the cursor and live publications merge without gap; then it answers and forgets everything.
 */
/** A publication as it appears in poll responses, with its size counted once for every poller. */
interface PollFrame {
  json: string;
  bytes: number;
}

class PollRequest implements Subscriber<PollFrame> {
  readonly positions: Array<StreamPosition | undefined>;
  readonly results: SubscribeResult[] = [];
  readonly frames: PollFrame[] = [];
  /** Bytes of `frames`, against the response cap. */
  private bytes = 0;
  private readonly index = new Map<string, number>();
  private full = new Set<string>();
  done = false;
  private wake: (() => void) | undefined;
  /** settle() came before the wait began (the session ended, or the client left, while subscribing). */
  private settledEarly = false;
  /** An answer is scheduled for the next turn; later publications of the burst join it. */
  private answering = false;

  constructor(
    readonly codec: Subscriber<PollFrame>['codec'],
    readonly channels: string[],
    private readonly maxBytes: number,
  ) {
    this.positions = channels.map(() => undefined);
    channels.forEach((c, i) => this.index.set(c, i));
  }

  onSubscribed(result: SubscribeResult): void {
    this.results[this.index.get(result.channel)!] = result;
    this.positions[this.index.get(result.channel)!] = result;
  }

  onPublication(frame: PollFrame, pub: Publication): void {
    // Once a channel's batch is cut, its cursor must stay at the last publication sent.
    if (this.done || this.full.has(pub.channel)) return;
    // Past the cap the response is cut: this channel's cursor stays at its last publication sent,
    // and the rest waits in history for the next poll.
    if (this.frames.length >= MAX_BATCH || (this.frames.length > 0 && this.bytes + frame.bytes > this.maxBytes)) {
      this.full.add(pub.channel);
      this.settle();
      return;
    }
    this.frames.push(frame);
    this.bytes += frame.bytes + 1;
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
    if (this.settledEarly) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  settle(): void {
    const wake = this.wake;
    this.wake = undefined;
    if (wake) wake();
    else this.settledEarly = true;
  }

  body(): string {
    return `{"cursor":${JSON.stringify(formatCursor(this.positions))},"subscriptions":${JSON.stringify(this.results)},"publications":[${this.frames.map((f) => f.json).join(',')}]}`;
  }
}

/** Long-poll: stateless; the cursor in the request is all any node needs to answer it. */
export function createPollTransport(env: TransportEnv): Transport<'poll'> {
  const { hub, config } = env;
  const codec = hub.codec('poll', (pub: Publication): PollFrame => {
    const json = JSON.stringify(pub);
    return { json, bytes: Buffer.byteLength(json) };
  });
  const waiting = new Set<PollRequest>();

  async function serve(ctx: Context, session: Session, poll: PollRequest, since: Array<StreamPosition | undefined>, timeoutMs: number) {
    const onClose = () => poll.settle();
    ctx.req.on('close', onClose);
    // A user disconnect answers a waiting poll now; the next one meets the revoked token.
    session.attach({
      disconnect: () => poll.settle(),
      subscribe: async () => false,
      unsubscribe: () => false,
    });
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
      const request = await openRealtimeRequest(env, ctx, 'poll', query, query.cursor);
      const timeoutMs = Math.min(query.timeout ?? Number.POSITIVE_INFINITY, config.pollTimeout * 1000);
      const poll = new PollRequest(codec, request.channels, config.maxPollBytes);
      try {
        await serve(ctx, request.session, poll, request.since, timeoutMs);
      } finally {
        request.session.close();
      }
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
