import type { Hubbub, Publication, StreamPosition, SubscriptionStateEvent } from '../../client/index.js';

/** Subscribes `h` to `channel` and records what the app would see: publications, states, errors. */
export function collect(h: Hubbub, channel: string, since?: StreamPosition) {
  const pubs: Publication[] = [];
  const states: SubscriptionStateEvent[] = [];
  const errors: Error[] = [];
  const sub = h.subscribe(channel, {
    ...(since ? { since } : {}),
    onPublication: (p) => pubs.push(p),
    onState: (s) => states.push(s),
    onError: (e) => errors.push(e),
  });
  const subscribed = () => states.filter((s): s is Extract<SubscriptionStateEvent, { state: 'subscribed' }> => s.state === 'subscribed');
  return { sub, pubs, states, errors, subscribed, data: () => pubs.map((p) => p.data) };
}
