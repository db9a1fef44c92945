import { EventSource } from 'eventsource';
import type { EventSourceLike, FetchLike, HeaderEventSourceConstructor } from './types.js';

// SSE in Node (Node 20 has no EventSource) over the maintained `eventsource` package, which takes
// a `fetch` in its init. Through that fetch the client sends the connection token in Authorization
// instead of the URL, and reads the body of a refusal (its error code), which a native EventSource
// hides. Only the Node entry (client/index.ts) imports this: the browser bundle uses the native one.

/** What an error event carries when the server answered with something other than an event stream. */
export interface SseRefusal {
  status?: number;
  body?: string;
  retryAfter?: string;
}

/** Opens `url` with extra request headers; an error event after a refusal carries its status, body and Retry-After. */
export function openWithHeaders(url: string, headers: Record<string, string>, fetch: FetchLike): EventSourceLike {
  let refusal: SseRefusal = {};
  const es = new EventSource(url, {
    fetch: async (input, init) => {
      const res = await fetch(String(input), { ...init, headers: { ...init.headers, ...headers } });
      const stream = res.status === 200 && (res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/event-stream');
      // Read from a copy before the EventSource sees the response: it fails without reading the body.
      const retryAfter = res.headers.get('retry-after') ?? undefined;
      refusal = stream ? {} : { status: res.status, body: await res.clone().text().catch(() => ''), ...(retryAfter && { retryAfter }) };
      return res;
    },
  });
  const wrapped: EventSourceLike & { onerror: ((e: SseRefusal) => void) | null } = {
    get readyState() {
      return es.readyState;
    },
    onopen: null,
    onerror: null,
    addEventListener: (type, listener) => es.addEventListener(type, listener),
    close: () => es.close(),
  };
  es.onerror = () => wrapped.onerror?.(refusal);
  return wrapped;
}

/** The Node entry's default EventSource: the package's class, declaring that it can send headers. */
export const NodeEventSource: HeaderEventSourceConstructor = Object.assign(class extends EventSource {}, { withHeaders: openWithHeaders });
