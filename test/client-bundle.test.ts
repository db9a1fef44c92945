import { describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../server/build/config.js';
import { clientBundle } from '../server/http/client-bundle.js';

describe('browser bundle', () => {
  it('is one minified ES module exporting Hubbub, createPublisher and HubbubError, with no Node imports', async () => {
    const code = await buildBrowserBundle();
    expect(code).not.toMatch(/\bfrom\s*["']node:|require\(/);
    expect(code.split('\n').length).toBeLessThan(5);
    // Evaluating it proves it is self-contained; construction needs no browser global until connect.
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual(['Hubbub', 'HubbubDisconnectError', 'HubbubError', 'HubbubNoTransportError', 'HubbubProtocolError', 'createPublisher']);
    const HubbubError = mod.HubbubError as new (code: string) => Error & { status: number };
    expect(new HubbubError('unauthorized')).toMatchObject({ name: 'HubbubError', status: 401 });
    // Size guard: ~100 kB today, of which zod is ~60 kB (see the client report); a jump means an accidental dependency.
    expect(code.length).toBeLessThan(120_000);
  });

  // Regression: client/build.ts targeted es2020 while the server serves es2022, so the size guard
  // measured a bundle (WeakMap shims for #private fields, ~6 kB more) that no browser gets. Both
  // now use server/build/config.ts, as `npm run build` does (test/build.test.ts checks dist/ serves it).
  it('is the bundle the server serves at /client/hubbub.js, byte for byte', async () => {
    expect(await buildBrowserBundle()).toBe(await clientBundle());
  });
});
