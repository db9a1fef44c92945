import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BROWSER_BUNDLE, CLIENT_ENTRY, buildBrowserBundle } from '../server/build/config.js';

// The browser bundle (/client/hubbub.js) on a budget. Measured as the comparison points were
// (socket.io-client 13.0 KB, centrifuge 23.5 KB): the minified bundle, gzip level 9. Before issue
// #10 it was 31,961 bytes, two thirds of it zod, which the client never runs: a package creeping
// back in fails here, and so does the client growing past the budget on its own.
const BUDGET = 10 * 1024;

async function bundleWithInputs(): Promise<{ code: Uint8Array; text: string; inputs: string[] }> {
  const result = await build({ ...BROWSER_BUNDLE, entryPoints: [CLIENT_ENTRY], write: false, metafile: true });
  const out = result.outputFiles[0]!;
  return { code: out.contents, text: out.text, inputs: Object.keys(result.metafile.inputs) };
}

describe('browser bundle size', () => {
  it('measures the bundle the server serves', async () => {
    const { text } = await bundleWithInputs();
    expect(text).toBe(await buildBrowserBundle());
  });

  it('carries no package: no zod, no ts-rest, no eventsource (browsers have EventSource)', async () => {
    const { inputs } = await bundleWithInputs();
    expect(inputs.filter((i) => /node_modules\/(zod|@ts-rest|eventsource)\//.test(i))).toEqual([]);
    expect(inputs.filter((i) => i.includes('node_modules/'))).toEqual([]);
    // The realtime client itself is in, from the zod-free contract modules.
    expect(inputs).toEqual(expect.arrayContaining(['client/hubbub.ts', 'contract/error-table.ts', 'contract/channel-names.ts']));
  });

  it(`is at most ${BUDGET} bytes minified and gzipped`, async () => {
    const { code } = await bundleWithInputs();
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`browser bundle: ${code.length} bytes minified, ${gzipped} bytes gzipped (budget ${BUDGET})`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET);
  });
});
