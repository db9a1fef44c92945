import { safeCall } from './emitter.js';
import { SseParser, type SseEvent } from './sse-parser.js';
import { realTimers, type EventSourceLike, type FetchLike, type SseMessageEvent, type Timers } from './types.js';

export interface FetchEventSourceInit {
  fetch?: FetchLike;
  /** Extra request headers (EventSource cannot send any; this one can). */
  headers?: Record<string, string>;
  /** Reconnection time in ms until the stream sends `retry:`; browsers use about 3 s. */
  retry?: number;
  timers?: Timers;
}

type Listener = (event: SseMessageEvent) => void;

/**
 * EventSource over fetch, for Node and hosts without EventSource. Same contract as the browser's:
 * readyState CONNECTING/OPEN/CLOSED; a non-200 or non-event-stream response fails for good (error,
 * CLOSED); a network error or the end of the stream reconnects after the retry time, sending
 * `Last-Event-ID` so the server resumes after the last event seen.
 */
export class FetchEventSource implements EventSourceLike {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;

  readonly url: string;
  readyState = FetchEventSource.CONNECTING;
  onopen: ((event: { type: 'open' }) => void) | null = null;
  /** `status`, `body` and its Retry-After are set when the server answered with something other than an event stream. */
  onerror: ((event: { type: 'error'; status?: number; body?: string; retryAfter?: string }) => void) | null = null;
  onmessage: Listener | null = null;

  readonly #fetch: FetchLike;
  readonly #headers: Record<string, string>;
  readonly #timers: Timers;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #parser: SseParser;
  #retry: number;
  #abort: AbortController | undefined;
  #timer: unknown;

  constructor(url: string, init: FetchEventSourceInit = {}) {
    const f = init.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('FetchEventSource needs fetch');
    this.url = url;
    this.#fetch = f;
    this.#headers = init.headers ?? {};
    this.#timers = init.timers ?? realTimers;
    this.#retry = init.retry ?? 3000;
    this.#parser = new SseParser({
      onEvent: (e) => this.#dispatch(e),
      onRetry: (ms) => (this.#retry = ms),
    });
    void this.#connect();
  }

  get lastEventId(): string {
    return this.#parser.lastEventId;
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  close(): void {
    this.readyState = FetchEventSource.CLOSED;
    this.#timers.clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  async #connect(): Promise<void> {
    const abort = (this.#abort = new AbortController());
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-store', ...this.#headers };
    if (this.#parser.lastEventId !== '') headers['last-event-id'] = this.#parser.lastEventId;
    let res: Response;
    try {
      res = await this.#fetch(this.url, { headers, signal: abort.signal });
    } catch {
      return this.#reconnect();
    }
    if (this.readyState === FetchEventSource.CLOSED) return void res.body?.cancel().catch(() => undefined);
    const type = res.headers.get('content-type') ?? '';
    const isStream = res.status === 200 && type.toLowerCase().startsWith('text/event-stream');
    if (!isStream || !res.body) {
      // Unlike a browser's EventSource, pass the error body on: it says whether a retry can help.
      // A stream without a readable body never ends, so it is not read.
      const body = isStream ? '' : await res.text().catch(() => '');
      if (isStream) void res.body?.cancel().catch(() => undefined);
      return this.#failed(res.status, body, res.headers.get('retry-after'));
    }
    this.readyState = FetchEventSource.OPEN;
    this.onopen?.({ type: 'open' });
    try {
      const reader = res.body.getReader();
      // stream: true keeps a UTF-8 sequence split between two chunks intact.
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.readyState === FetchEventSource.CLOSED) break;
        this.#parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch {
      // A reset connection ends the stream like a clean end does: reconnect below.
    }
    this.#reconnect();
  }

  #reconnect(): void {
    if (this.readyState === FetchEventSource.CLOSED) return;
    this.#parser.reset();
    this.readyState = FetchEventSource.CONNECTING;
    this.onerror?.({ type: 'error' });
    // The error handler may have closed us; only then is there nothing to schedule.
    if (this.readyState !== FetchEventSource.CONNECTING) return;
    this.#timer = this.#timers.setTimeout(() => void this.#connect(), this.#retry);
  }

  #failed(status: number, body: string, retryAfter: string | null): void {
    if (this.readyState === FetchEventSource.CLOSED) return;
    this.readyState = FetchEventSource.CLOSED;
    this.onerror?.(retryAfter === null ? { type: 'error', status, body } : { type: 'error', status, body, retryAfter });
  }

  #dispatch(e: SseEvent): void {
    if (this.readyState === FetchEventSource.CLOSED) return;
    const event: SseMessageEvent = { type: e.type, data: e.data, lastEventId: e.lastEventId };
    // As in browsers, a throwing listener is reported and does not break the stream.
    if (e.type === 'message') safeCall(this.onmessage ?? undefined, event);
    for (const listener of [...(this.#listeners.get(e.type) ?? [])]) safeCall(listener, event);
  }
}
