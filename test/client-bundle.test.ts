import { describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../server/build/config.js';
import { clientBundle } from '../server/http/client-bundle.js';

describe('browser bundle', () => {
  it('is one minified ES module exporting the realtime client and its errors, with no Node imports', async () => {
    const code = await buildBrowserBundle();
    expect(code).not.toMatch(/\bfrom\s*["']node:|require\(/);
    expect(code.split('\n').length).toBeLessThan(5);
    // Evaluating it proves it is self-contained; construction needs no browser global until connect.
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual([
      'DEFAULT_TRANSPORTS',
      'Emitter',
      'Hubbub',
      'HubbubDisconnectError',
      'HubbubError',
      'HubbubNoTransportError',
      'HubbubProtocolError',
      'Subscription',
      'TRANSPORTS',
      'backoffDelay',
      'pollTransport',
      'sseTransport',
      'websocketTransport',
    ]);
    const HubbubError = mod.HubbubError as new (code: string) => Error & { status: number };
    expect(new HubbubError('unauthorized')).toMatchObject({ name: 'HubbubError', status: 401 });
    // Its size budget and its inputs (no zod, no eventsource): test/client-bundle-size.test.ts.
  });

  // Regression: client/build.ts targeted es2020 while the server serves es2022, so the size guard
  // measured a bundle (WeakMap shims for #private fields, ~6 kB more) that no browser gets. Both
  // now use server/build/config.ts, as `npm run build` does (test/build.test.ts checks dist/ serves it).
  it('is the bundle the server serves at /client/hubbub.js, byte for byte', async () => {
    expect(await buildBrowserBundle()).toBe(await clientBundle());
  });
});
