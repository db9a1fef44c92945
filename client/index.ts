import { Hubbub as HubbubCore } from './hubbub.js';
import { NodeEventSource } from './node-event-source.js';
import type { HubbubOptions } from './options.js';

// The client in Node (the package's "node" condition): the realtime client, whose SSE transport
// runs on the maintained `eventsource` package, as Node 20 has no EventSource. The typed publisher
// is client/publisher.ts (the package's `./publisher`).
export * from './realtime.js';
export { NodeEventSource } from './node-event-source.js';

/** The realtime client; without an `EventSource` option, SSE uses the `eventsource` package (it sends the token in a header). */
export class Hubbub extends HubbubCore {
  constructor(url: string, options: HubbubOptions = {}) {
    super(url, options.EventSource === undefined ? { ...options, EventSource: NodeEventSource } : options);
  }
}
