import { type Publication, type StreamPosition, type SubscribeResult, formatCursor } from '../../contract/index.js';
import { type Exchange, RESPONDED } from '../http/adapter.js';
import { HubbubError } from '../errors.js';
import { type Hub, SubscriptionAbortedError } from '../hub/hub.js';
import type { StartingPoint } from '../hub/starting-point.js';
import type { Subscriber } from '../hub/subscriber.js';
import type { ConnectionHandle } from '../session/session.js';
import { openRealtimeRequest } from './realtime-request.js';
import type { Transport, TransportEnv } from './transport.js';

// Long-poll: stateless; the cursor in the request is all any node needs to answer it. A poll is
// the hottest request the server answers, so its path allocates no closures: one poll with news is
// answered from the hub's recent window without subscribing (Hub.catchUp), one at the head
// subscribes synchronously (Hub.subscribeNow) and waits; the rest subscribes like any connection.

/** Publications in one poll response at most; the rest waits in history for the next poll. */
const MAX_BATCH = 1000;

/** A publication as it appears in poll responses, with its size counted once for every poller. */
interface PollFrame {
  json: string;
  bytes: number;
}

function encode(pub: Publication): PollFrame {
  const json = JSON.stringify(pub);
  return { json, bytes: Buffer.byteLength(json) };
}

/** Waiting polls to answer on the next turn, so a burst published together leaves in one response: one timer for all. */
class AnswerQueue {
  private queued: PollRequest[] = [];

  add(poll: PollRequest): void {
    if (this.queued.push(poll) === 1) setImmediate(flushAnswers, this);
  }

  flush(): void {
    const polls = this.queued;
    this.queued = [];
    for (const p of polls) p.settle();
  }
}

/** A response body and its length in bytes. */
interface Answer {
  body: string;
  bytes: number;
}

/**
 * The last one-channel answer with one publication, reused while the next is the same: the pollers a
 * publication wakes, or finds one behind, all get the same body (the frame is shared, so is its position).
 */
class LastAnswer {
  private result: SubscribeResult | undefined;
  private frame: PollFrame | undefined;
  private answer: Answer | undefined;

  get(result: SubscribeResult, frame: PollFrame): Answer | undefined {
    const r = this.result;
    if (this.frame !== frame || !r) return undefined;
    return r.channel === result.channel && r.epoch === result.epoch && r.offset === result.offset && r.recovered === result.recovered ? this.answer : undefined;
  }

  set(result: SubscribeResult, frame: PollFrame, answer: Answer): void {
    this.result = result;
    this.frame = frame;
    this.answer = answer;
  }
}

function flushAnswers(queue: AnswerQueue): void {
  queue.flush();
}

function settlePoll(poll: PollRequest): void {
  poll.settle();
}

/** One poll request: it collects what its channels have after the cursor, then answers and forgets everything. */
class PollRequest implements Subscriber<PollFrame>, ConnectionHandle {
  readonly positions: Array<StreamPosition | undefined>;
  /** One entry per channel, sized up front: a first push would reserve 17 slots for a waiting poll's one. */
  readonly results: SubscribeResult[];
  readonly frames: PollFrame[] = [];
  /** Bytes of `frames`, against the response cap. */
  private bytes = 0;
  /** Channels whose batch was cut (made on the first cut). */
  private full: Set<string> | undefined;
  done = false;
  private wake: (() => void) | undefined;
  /** settle() came before the wait began (the session ended, or the client left, while subscribing). */
  private settledEarly = false;
  /** An answer is queued for the next turn; later publications of the burst join it. */
  private answering = false;

  constructor(
    readonly codec: Subscriber<PollFrame>['codec'],
    readonly channels: string[],
    private readonly maxBytes: number,
    private readonly answers: AnswerQueue,
  ) {
    this.positions = new Array<StreamPosition | undefined>(channels.length).fill(undefined);
    this.results = new Array<SubscribeResult>(channels.length);
  }

  /** Position of a channel in the request (a poll lists a few channels: a scan beats a map it would build per request). */
  private slot(channel: string): number {
    return this.channels.length === 1 ? 0 : this.channels.indexOf(channel);
  }

  onSubscribed(result: SubscribeResult): void {
    const i = this.slot(result.channel);
    this.results[i] = result;
    this.positions[i] = result;
  }

  onPublication(frame: PollFrame, pub: Publication): void {
    // Once a channel's batch is cut, its cursor must stay at the last publication sent.
    if (this.done || this.full?.has(pub.channel)) return;
    // Past the cap the response is cut: this channel's cursor stays at its last publication sent,
    // and the rest waits in history for the next poll.
    if (this.frames.length >= MAX_BATCH || (this.frames.length > 0 && this.bytes + frame.bytes > this.maxBytes)) {
      (this.full ??= new Set()).add(pub.channel);
      this.settle();
      return;
    }
    this.frames.push(frame);
    this.bytes += frame.bytes + 1;
    this.positions[this.slot(pub.channel)] = pub;
    // Answer on the next turn so a burst published together leaves in one response.
    if (this.wake && !this.answering) {
      this.answering = true;
      this.answers.add(this);
    }
  }

  onUnrecoverable(): void {
    this.settle();
  }

  // The session's handle on the request: a user disconnect answers a waiting poll now; the next one
  // meets the revoked token. A poll's channels are its request's: no server-side subscribe.
  disconnect(): void {
    this.settle();
  }

  async subscribe(): Promise<boolean> {
    return false;
  }

  unsubscribe(): boolean {
    return false;
  }

  /** Every channel got its subscribe result (none was cut short by a shutdown or a client leaving). */
  subscribedAll(): boolean {
    for (let i = 0; i < this.channels.length; i++) if (this.results[i] === undefined) return false;
    return true;
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

  answer(last: LastAnswer): Answer {
    const shared = this.channels.length === 1 && this.frames.length === 1;
    if (shared) {
      const same = last.get(this.results[0]!, this.frames[0]!);
      if (same) return same;
    }
    let pubs = '';
    for (let i = 0; i < this.frames.length; i++) pubs += i === 0 ? this.frames[i]!.json : `,${this.frames[i]!.json}`;
    const body = `{"cursor":${JSON.stringify(formatCursor(this.positions))},"subscriptions":${JSON.stringify(this.results)},"publications":[${pubs}]}`;
    const answer = { body, bytes: Buffer.byteLength(body) };
    if (shared) last.set(this.results[0]!, this.frames[0]!, answer);
    return answer;
  }
}

/**
 * The poll's answer from the hub's recent windows, without subscribing, when every channel can be
 * answered from them and one has news: exactly what subscribing would deliver first (Hub.catchUp,
 * Hub.deliverStart). False, with nothing delivered, when the poll must subscribe.
 */
function answerFromWindow(hub: Hub, poll: PollRequest, since: ReadonlyArray<StreamPosition | undefined>): boolean {
  const { channels } = poll;
  let one: StartingPoint | undefined;
  let starts: StartingPoint[] | undefined;
  let news = false;
  for (let i = 0; i < channels.length; i++) {
    const start = hub.catchUp(channels[i]!, since[i]);
    if (!start) return false;
    news ||= start.backlog.length > 0 || !start.result.recovered;
    if (i === 0) one = start;
    else (starts ??= [one!]).push(start);
  }
  if (!news) return false;
  const all = starts ?? [one!];
  for (let i = 0; i < all.length; i++) hub.deliverStart(poll, all[i]!, since[i] !== undefined);
  return true;
}

export function createPollTransport(env: TransportEnv): Transport<'poll'> {
  const { hub, config } = env;
  const codec = hub.codec('poll', encode, (frame) => frame.bytes);
  const waiting = new Set<PollRequest>();
  const answers = new AnswerQueue();
  const lastAnswer = new LastAnswer();

  /** The 200: written here for Koa's route and the direct route alike (Exchange). */
  function send(exchange: Exchange, answer: Answer): void {
    exchange.respond = false;
    const headers: Record<string, string | number> = {
      ...exchange.corsHeaders,
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Length': answer.bytes,
    };
    // As the error policy does: a kept-alive socket must not carry the client's next polls into a shutdown.
    if (env.isClosing()) headers['Connection'] = 'close';
    exchange.res.writeHead(200, headers);
    exchange.res.end(answer.body);
  }

  return {
    name: 'poll',
    route: 'poll',
    capabilities: { bidirectional: false, streaming: false, upgrade: false, sendsCorsHeaders: true },
    async handle({ query }, exchange) {
      if (env.isClosing()) throw new HubbubError('unavailable', 'the server is shutting down');
      const request = await openRealtimeRequest(env, exchange, { transport: 'poll', connection: false }, query, query.cursor);
      const timeoutMs = Math.min(query.timeout ?? Number.POSITIVE_INFINITY, config.pollTimeout * 1000);
      const poll = new PollRequest(codec, request.channels, config.maxPollBytes, answers);
      try {
        // The subscribe and the wait run in this frame: a waiting poll keeps one suspended async
        // frame alive, not two (each is a generator, its registers and a promise, ~0.5 KB).
        if (!answerFromWindow(hub, poll, request.since)) {
          const { session, since } = request;
          const req = exchange.req;
          const onClose = poll.settle.bind(poll);
          req.on('close', onClose);
          session.attach(poll);
          let timer: NodeJS.Timeout | undefined;
          try {
            for (let i = 0; i < poll.channels.length; i++) {
              const channel = poll.channels[i]!;
              try {
                if (!hub.subscribeNow(channel, poll, since[i])) await hub.subscribe(channel, poll, since[i]);
              } catch (err) {
                if (!(err instanceof SubscriptionAbortedError)) throw err;
              }
            }
            if (!poll.hasNews() && !env.isClosing() && !req.destroyed) {
              waiting.add(poll);
              const settled = poll.waitUntilSettled();
              timer = setTimeout(settlePoll, timeoutMs, poll);
              await settled;
            }
          } finally {
            poll.done = true;
            waiting.delete(poll);
            if (timer) clearTimeout(timer);
            req.off('close', onClose);
            for (const channel of poll.channels) hub.unsubscribe(channel, poll);
          }
        }
      } finally {
        request.session.close();
      }
      if (!poll.subscribedAll()) {
        // A subscription was cut short (shutdown, client gone): answer with the request's own cursor.
        throw new HubbubError('unavailable', 'the poll could not be served, retry');
      }
      send(exchange, poll.answer(lastAnswer));
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
