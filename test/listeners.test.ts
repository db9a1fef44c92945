import { describe, expect, it } from 'vitest';
import { type Listener, createHubbub } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { memoryLogger } from '../server/logger.js';
import type { Core } from '../server/core.js';
import { openSession } from './support/raw-clients.js';
import { startServer } from './support/server.js';

describe('listeners plugged into the node', () => {
  it('are started after the front door by listen(), stopped in reverse by stop(), and publish through the core', async () => {
    const events: string[] = [];
    let core: Core | undefined;
    const listener = (name: string): Listener => ({
      name,
      start: async () => void events.push(`start ${name}`),
      stop: async () => void events.push(`stop ${name}`),
    });
    const srv = await startServer(
      {},
      {
        listeners: (c) => {
          core = c;
          return [listener('unix'), listener('udp')];
        },
      },
    );
    expect(events).toEqual(['start unix', 'start udp']);
    // What an ingest listener does with a line: hand it to the one publish service, as a backend.
    const sub = await openSession('websocket', srv.url, ['ingest:jobs']);
    const pub = await core!.publishing.publish({ kind: 'backend', key: { name: 'ingest', missingOperation: () => undefined, missingChannel: () => undefined } }, {
      channel: 'ingest:jobs',
      data: { done: 17 },
    });
    expect(pub.offset).toBe(1);
    await expect.poll(() => sub.publications.map((p) => p.data)).toEqual([{ done: 17 }]);
    await sub.close();
    await srv.app.stop();
    expect(events).toEqual(['start unix', 'start udp', 'stop udp', 'stop unix']);
    await srv.close();
  });
});

describe('a listener that cannot start', () => {
  it('fails listen() and leaves nothing listening (the front door is stopped again)', async () => {
    const stopped: string[] = [];
    const ok: Listener = { name: 'ok', start: async () => undefined, stop: async () => void stopped.push('ok') };
    const broken: Listener = {
      name: 'broken',
      start: async () => {
        throw new Error('socket taken');
      },
      stop: async () => void stopped.push('broken'),
    };
    const config = loadConfig({ env: { HUBBUB_API_KEY: 'test-api-key-0123456789', HUBBUB_HOST: '127.0.0.1' } });
    const app = createHubbub(config, { logger: memoryLogger(), listeners: () => [ok, broken] });
    await expect(app.listen(0, '127.0.0.1')).rejects.toThrow('socket taken');
    expect(stopped).toEqual(['ok']);
    // The door is closed again: the app can listen anew, and is closed cleanly.
    await expect(app.listen(0, '127.0.0.1')).rejects.toThrow('socket taken');
    await app.close();
  });
});
