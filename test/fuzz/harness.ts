// How the fuzz suites run: runs per property, seeds, time limits, and the warning count each
// property reports. CI runs FUZZ_RUNS=200 inputs per property, each property with its own fixed
// seed; `npm run fuzz` runs 100000. A failure prints fast-check's seed and path; replay only that
// counterexample with FUZZ_SEED=<seed> FUZZ_PATH=<path> npx vitest run test/fuzz/<file> -t '<test
// name>' (the path means nothing to other properties: they replay nothing). FUZZ_SEED=random
// explores new inputs.
import fc from 'fast-check';
import { expect } from 'vitest';
import type { TestServer } from '../support/server.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Inputs per property. The default keeps all fuzz files together well under a minute on two busy cores. */
export const FUZZ_RUNS = envInt('FUZZ_RUNS', 200);

/** FNV-1a: a stable seed per property name, so each property explores its own inputs in CI. */
function hashSeed(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h | 0;
}

function seedFor(name: string): number {
  const raw = process.env['FUZZ_SEED'];
  if (raw === undefined || raw === '') return hashSeed(name);
  if (raw === 'random') return (Date.now() ^ hashSeed(name)) | 0;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FUZZ_SEED must be an integer or "random", got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Test timeout for a property given a budget per run (about five times what a run takes on a busy
 * two-core machine), plus a minute for start-up and shrinking: a 10^5 run is not cut short, and a
 * run that hangs still ends.
 */
export function fuzzTimeout(perRunMs: number): number {
  return 60_000 + FUZZ_RUNS * perRunMs;
}

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** The servers run in this process: a request that polluted Object.prototype shows here. */
export function expectNoPrototypePollution(): void {
  const inherited: string[] = [];
  for (const key in {}) inherited.push(key);
  expect(inherited, 'enumerable keys appeared on Object.prototype').toEqual([]);
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), 'Object.prototype changed').toEqual(PROTOTYPE_KEYS);
}

function countBy(items: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return out;
}

/**
 * Runs one property against a live server: FUZZ_RUNS inputs from `arb`, each checked by `check`
 * (which throws on a violation and returns a label for the outcome, e.g. the error code), then
 * the prototype check. Prints one line per property: runs, time, how the outcomes spread (so a
 * property that never reaches the success path shows it) and the server warnings the inputs
 * caused (each one a log line in production).
 */
export async function fuzz<T>(name: string, srv: TestServer, arb: fc.Arbitrary<T>, check: (input: T) => Promise<string>): Promise<void> {
  let runs = 0;
  const outcomes: string[] = [];
  const warningsBefore = srv.warnings.length;
  const started = performance.now();
  const property = fc.asyncProperty(arb, async (input) => {
    runs++;
    outcomes.push(await check(input));
    expectNoPrototypePollution();
  });
  const path = process.env['FUZZ_PATH'];
  try {
    await fc.assert(property, { numRuns: FUZZ_RUNS, seed: seedFor(name), ...(path ? { path } : {}) });
  } finally {
    const warnings = srv.warnings.slice(warningsBefore);
    const ms = Math.round(performance.now() - started);
    console.info(
      `[fuzz] ${name}: ${runs} runs in ${ms} ms; outcomes ${JSON.stringify(countBy(outcomes))}; ` +
        `${warnings.length} server warnings ${JSON.stringify(countBy(warnings))}`,
    );
  }
}

/**
 * Thousands of requests, wrong keys and commands a second from one address: the per-address limits
 * are lifted so every input gets its own answer (test/limits.test.ts checks the limits themselves).
 */
export const FUZZ_LIMITS = {
  HUBBUB_LIMIT_CONNECTION_RATE: '1000000',
  HUBBUB_LIMIT_CONNECTIONS_PER_IP: '1000000',
  HUBBUB_LIMIT_AUTH_FAILURES: '1000000',
  HUBBUB_LIMIT_COMMANDS: '1000000',
};
