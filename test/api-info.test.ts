// /api/info carries the node's process memory, which the soak benchmark samples to spot leaks.
import { describe, expect, it } from 'vitest';
import { InfoResponse } from '../contract/index.js';
import { startServer } from './support/server.js';

describe('/api/info memory', () => {
  it('reports the process memory in bytes', async () => {
    await using srv = await startServer();
    const res = await srv.api('/api/info');
    expect(res.status).toBe(200);
    const { memory } = InfoResponse.parse(await res.json());
    for (const bytes of Object.values(memory)) expect(bytes).toBeGreaterThan(0);
    expect(memory.heapUsed).toBeLessThanOrEqual(memory.heapTotal);
  });
});
