import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Hubbub } from '../client/index.js';
import { collect } from './support/collect.js';
import { GatedBroker } from './support/gated-broker.js';
import { startServer } from './support/server.js';

describe('client and the cancelled reply', () => {
  it('keeps a subscription made again while the server was still subscribing the first one', async () => {
    const broker = new GatedBroker();
    await using srv = await startServer({}, { broker });
    const h = new Hubbub(srv.url, { WebSocket, random: () => 0, transports: ['websocket'] });
    const errors: Error[] = [];
    h.on('error', (e) => errors.push(e));
    try {
      await vi.waitFor(() => expect(h.state).toBe('connected'));
      const first = h.subscribe('x', { onPublication: () => undefined });
      await vi.waitFor(() => expect(broker.waiting).toBe(1));
      // The server answers the first subscribe `cancelled`: that is the client's own doing, not an
      // error of the subscription that replaced it.
      first.unsubscribe();
      const again = collect(h, 'x');
      await vi.waitFor(() => expect(broker.waiting).toBe(2));
      broker.open();
      broker.open();
      await vi.waitFor(() => expect(again.subscribed()).toHaveLength(1));
      await srv.publish('x', 'hello');
      await vi.waitFor(() => expect(again.data()).toEqual(['hello']));
      expect(again.errors).toEqual([]);
      expect(errors).toEqual([]);
      expect(again.sub.status).toBe('subscribed');
    } finally {
      h.close();
    }
  });
});
